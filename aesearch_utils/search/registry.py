"""The registered search pipelines: named recipes, and building them on a dataset.

The recipes are data, in ``pipelines.json`` beside this module: each is
what notebook 12's validation chose for its dataset (a test ties every entry
to ``results/12_ablation.csv`` by the notebook's own rule), not a copy of a
results table in code. ``build_pipeline("mnist-best")`` trains (or loads from
the cache) the recipe's autoencoders and indexes the dataset's training split
as the gallery; :meth:`~aesearch_utils.search.pipeline.SearchPipeline.save`
then keeps the result for a fast start.

Training needs Keras, which loads TensorFlow (and through it pandas and
matplotlib): it is imported inside the functions that train, so importing
this module, or searching a saved pipeline of raw pixels or PCA, stays light.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.loading import load_dataset
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.array_cache import CostTimer
from aesearch_utils.search.descriptors import ColourHistogramEncoder, HOGEncoder
from aesearch_utils.search.encoders import (
    ConcatenatedEncoder,
    Encoder,
    LayerEncoder,
    PCAEncoder,
    PixelEncoder,
)
from aesearch_utils.search.feature_spec import (
    ColourFeatures,
    ConcatenatedFeatures,
    FeatureSpec,
    HOGFeatures,
    ModelFeatures,
    PCAFeatures,
    PixelFeatures,
    parse_features,
)
from aesearch_utils.search.pipeline import SETTINGS, SearchPipeline
from aesearch_utils.search.whitening import Whitening
from aesearch_utils.seeding import DEFAULT_SEED

if TYPE_CHECKING:
    from aesearch_utils.training import TrainedAutoencoder

REGISTRY_FILE = Path(__file__).with_name("pipelines.json")


@dataclass(frozen=True)
class PipelineRecipe:
    """A named, reproducible search pipeline: which features, then which steps."""

    dataset: str
    features: FeatureSpec
    whiten_dims: int | None = None
    whiten_power: float = 0.5
    expansion_k: int = 0
    expansion_alpha: float = 3.0
    description: str = ""

    def settings(self) -> dict[str, Any]:
        """The :class:`SearchPipeline` options."""
        return {name: getattr(self, name) for name in SETTINGS}


@cache
def registered_pipelines() -> dict[str, PipelineRecipe]:
    """Every registered recipe by name, read from :data:`REGISTRY_FILE`."""
    entries = json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))
    return {
        name: PipelineRecipe(**(entry | {"features": parse_features(entry["features"])}))
        for name, entry in entries.items()
    }


def pipeline_names() -> tuple[str, ...]:
    return tuple(registered_pipelines())


def pipeline_recipe(name: str) -> PipelineRecipe:
    recipes = registered_pipelines()
    if name not in recipes:
        raise UnknownNameError("pipeline", name, tuple(recipes))
    return recipes[name]


@dataclass
class BuiltPipeline:
    """A registered pipeline, trained and fitted: ``pipeline.query(images)`` searches."""

    name: str
    recipe: PipelineRecipe
    pipeline: SearchPipeline
    fit_seconds: float
    """Encoding the gallery and fitting the whitening and re-ranking."""
    trained: list[TrainedAutoencoder] = field(default_factory=list)
    """The autoencoders its features come from."""

    @property
    def train_seconds(self) -> float:
        """Training time of each model once, however many of its layers the features read."""
        models = {model.path: model for model in self.trained}.values()
        return sum(model.train_seconds for model in models)

    def query(self, images: np.ndarray, k: int = 10):
        return self.pipeline.query(images, k)


def build_pipeline(
    name: str, data: Dataset | None = None, epochs: int | None = None, seed: int = DEFAULT_SEED
) -> BuiltPipeline:
    """Train (or load) the named recipe's models and index ``data``'s training split.

    Args:
        data: the recipe's dataset, loaded when not given (a subset of it is
            fine, e.g. in the smoke profile).
        epochs: overrides the recipe's training budget (the smoke profile).
        seed: the training seed (which also fixes the validation images training holds out).
    """
    recipe = pipeline_recipe(name)
    if data is None:
        data = load_dataset(recipe.dataset)
    if data.name != recipe.dataset:
        raise InvalidInputError(
            f"pipeline {name!r} is made for {recipe.dataset}, got the {data.name} dataset"
        )
    trained: list[TrainedAutoencoder] = []
    encoder = features_encoder(recipe.features, data, data.x_train, epochs, seed, trained)
    with CostTimer() as fitting:
        pipeline = SearchPipeline(encoder, **recipe.settings()).fit(data.x_train, data.y_train)
    pipeline.metadata = {
        "pipeline": name,
        "dataset": data.name,
        "class_names": list(data.class_names),
        "description": recipe.description,
    }
    return BuiltPipeline(name, recipe, pipeline, fitting.seconds, trained)


def features_encoder(
    spec: FeatureSpec | str,
    data: Dataset,
    gallery: np.ndarray,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    trained: list[TrainedAutoencoder] | None = None,
    models: Mapping[str, TrainedAutoencoder] | None = None,
) -> Encoder:
    """The encoder a feature spec (:mod:`~aesearch_utils.search.feature_spec`) names; it is
    named after the spec's canonical text.

    PCA and the whitening of concatenated parts are fitted on ``gallery``;
    autoencoders are trained on ``data``'s training split with ``seed`` (or
    loaded from the cache). ``trained`` collects them, for their training time.
    ``models`` gives trained models to read for some of the spec's model names instead
    of their recipes' (to compare training recipes under one spec).
    """
    spec = parse_features(spec) if isinstance(spec, str) else spec
    trained = trained if trained is not None else []
    encoder: Encoder
    if isinstance(spec, ConcatenatedFeatures):
        parts = [
            (
                features_encoder(part.features, data, gallery, epochs, seed, trained, models),
                Whitening(part.dims, part.power),
            )
            for part in spec.parts
        ]
        encoder = ConcatenatedEncoder(parts).fit(gallery)
    elif isinstance(spec, PixelFeatures):
        encoder = PixelEncoder(data.image_shape)
    elif isinstance(spec, PCAFeatures):
        encoder = PCAEncoder(spec.components, seed).fit(gallery)
    elif isinstance(spec, HOGFeatures):
        encoder = HOGEncoder(data.image_shape)
    elif isinstance(spec, ColourFeatures):
        encoder = ColourHistogramEncoder(spec.bins)
    elif isinstance(spec, ModelFeatures):
        # Keras loads here, only when a pipeline needs a model
        from aesearch_utils.training import recipe_names, train_model

        if spec.model_name not in recipe_names():
            raise UnknownNameError(
                "feature spec model",
                spec.model_name,
                ("raw", "pca", "hog", "colour", *recipe_names()),
            )
        given = (models or {}).get(spec.model_name)
        trained.append(given or train_model(spec.model_name, data, epochs, seed))
        encoder = LayerEncoder.from_trained(
            trained[-1],
            spec.layer,
            stretch_levels=spec.stretch_levels,
            flip_average=spec.flip_average,
            square_root=spec.square_root,
            unit_length=spec.unit_length,
        )
    else:
        raise InvalidInputError(f"not a feature spec: {spec!r}")
    encoder.name = str(spec)
    return encoder
