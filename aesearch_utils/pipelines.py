"""Search pipelines: a trained encoder's features, whitened, searched, re-ranked.

A :class:`SearchPipeline` turns images into vectors with any encoder (an
autoencoder's latent or pooled conv features, raw pixels, PCA), then

1. PCA-whitens them (:class:`~aesearch_utils.postprocessing.Whitening`, fitted
   on the gallery),
2. searches by cosine similarity in an exact :class:`~aesearch_utils.index.ImageIndex`,
3. optionally re-ranks with database-side augmentation and alpha query
   expansion (:mod:`aesearch_utils.reranking`).

The same steps apply to the baselines, so the ablation of notebook 12 can
tell what the autoencoder adds and what the post-processing adds.

The recipes that won on the validation split are registered by name:
``build_pipeline("mnist-best")`` trains (or loads) the model and indexes the
dataset's training split as the gallery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from aesearch_utils.benchmark import benchmark_config, median_latency_ms
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.loading import load_dataset
from aesearch_utils.encoders import (
    ConcatenatedEncoder,
    Encoder,
    LayerEncoder,
    PCAEncoder,
    PixelEncoder,
)
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.index import ImageIndex, SearchResult, encode_in_chunks
from aesearch_utils.metrics import retrieval_scores
from aesearch_utils.models import model_names
from aesearch_utils.postprocessing import PrincipalAxes, Whitening
from aesearch_utils.reranking import alpha_query_expansion, database_side_augmentation
from aesearch_utils.search import unit_vectors
from aesearch_utils.training import TrainedAutoencoder, train_autoencoder


class _Postprocessed:
    """The encoder the index sees: the base encoder followed by the whitening."""

    def __init__(self, base: Encoder, whitening: Whitening | None) -> None:
        self.base = base
        self.whitening = whitening
        self.name = base.name + ("+whitened" if whitening else "")

    @property
    def latent_dim(self) -> int:
        return self.whitening.output_dim if self.whitening else self.base.latent_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        return self.transform(self.base.encode(images))

    def transform(self, features: np.ndarray) -> np.ndarray:
        return self.whitening.transform(features) if self.whitening else features


class SearchPipeline:
    """Features -> whitening -> cosine search -> re-ranking; fitted on a gallery.

    Args:
        encoder: gives the features.
        whiten_dims: whitened dimensions kept (``None``: no whitening).
        whiten_power: 1 is full whitening, 0 plain PCA (see ``Whitening``).
        expansion_k: neighbours used by database-side augmentation and query
            expansion; 0 turns re-ranking off.
        expansion_alpha: the weight exponent of both.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        whiten_dims: int | None = None,
        whiten_power: float = 0.5,
        expansion_k: int = 0,
        expansion_alpha: float = 3.0,
    ) -> None:
        if expansion_k < 0:
            raise InvalidInputError(f"expansion_k must be 0 (off) or more, got {expansion_k}")
        self.encoder = encoder
        self.whiten_dims = whiten_dims
        self.whiten_power = whiten_power
        self.expansion_k = expansion_k
        self.expansion_alpha = expansion_alpha
        self.index: ImageIndex | None = None

    @property
    def name(self) -> str:
        steps = [self.encoder.name]
        if self.whiten_dims:
            steps.append(f"whiten{self.whiten_dims}^{self.whiten_power:g}")
        if self.expansion_k:
            steps.append(f"dba+qe{self.expansion_k}")
        return " | ".join(steps)

    def fit(self, images: np.ndarray, labels: np.ndarray | None = None) -> SearchPipeline:
        """Encode the gallery ``images`` and fit every step on them."""
        features = encode_in_chunks(self.encoder, images, progress=False)
        return self.fit_features(features, labels, images.shape[1:])

    def fit_features(
        self,
        features: np.ndarray,
        labels: np.ndarray | None,
        image_shape: tuple[int, ...],
        axes: PrincipalAxes | None = None,
    ) -> SearchPipeline:
        """Fit on already-encoded gallery features (the encoder's output).

        ``axes``: the features' :func:`~aesearch_utils.postprocessing.principal_axes`,
        when already computed.
        """
        whitening = Whitening(self.whiten_dims, self.whiten_power) if self.whiten_dims else None
        if whitening is not None:
            whitening.fit(features, axes)
        encoder = _Postprocessed(self.encoder, whitening)
        vectors = unit_vectors(encoder.transform(features))
        if self.expansion_k:
            vectors = database_side_augmentation(vectors, self.expansion_k, self.expansion_alpha)
        self.index = ImageIndex(vectors, labels, encoder, image_shape, metric="cosine")
        return self

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery images to each query image (one image or a batch)."""
        index = self._fitted()
        if images.ndim == 3:
            images = images[np.newaxis]
        if tuple(images.shape[1:]) != index.image_shape:
            raise InvalidInputError(
                f"query images must have shape {index.image_shape} like the gallery's, "
                f"got {images.shape[1:]}"
            )
        return self.query_features(encode_in_chunks(self.encoder, images, progress=False), k)

    def query_features(self, features: np.ndarray, k: int = 10) -> SearchResult:
        """Search with already-encoded query features (the encoder's output)."""
        index = self._fitted()
        vectors = index.encoder.transform(np.atleast_2d(np.asarray(features, dtype=np.float32)))
        if self.expansion_k:
            first = index.query_vectors(vectors, self.expansion_k)
            vectors = alpha_query_expansion(
                vectors, index.vectors, first.ids, first.distances, self.expansion_alpha
            )
        return index.query_vectors(vectors, k)

    def _fitted(self) -> ImageIndex:
        if self.index is None:
            raise InvalidInputError("fit the pipeline on a gallery before searching")
        return self.index


@dataclass(frozen=True)
class PipelineRecipe:
    """A named, reproducible search pipeline: which features, then which steps.

    ``features`` is a feature spec, as :func:`features_encoder` reads it.
    """

    dataset: str
    features: str
    whiten_dims: int | None = None
    whiten_power: float = 0.5
    expansion_k: int = 0
    expansion_alpha: float = 3.0
    description: str = ""

    def steps(self) -> dict[str, Any]:
        """The :class:`SearchPipeline` options."""
        return {
            "whiten_dims": self.whiten_dims,
            "whiten_power": self.whiten_power,
            "expansion_k": self.expansion_k,
            "expansion_alpha": self.expansion_alpha,
        }


PIPELINES: dict[str, PipelineRecipe] = {
    "mnist-best": PipelineRecipe(
        "mnist", "conv_fc_transpose:pool2", whiten_dims=128, whiten_power=0.5, expansion_k=5,
        description="the conv encoder's second pooled map (7x7x32), whitened, re-ranked",
    ),
    "fashion_mnist-best": PipelineRecipe(
        "fashion_mnist", "conv_fc_transpose:pool1@128^0.75 + dense:latent@32^0.5",
        expansion_k=5,
        description="the conv encoder's first pooled map (14x14x16) and the dense code, each "
        "whitened, side by side; re-ranked",
    ),
    "cifar10-best": PipelineRecipe(
        "cifar10", "conv_deep:pool3+flip", whiten_dims=256, whiten_power=0.5, expansion_k=5,
        description="the deep encoder's third pooled map (4x4x128), mirror-averaged, whitened, "
        "re-ranked",
    ),
}  # fmt: skip
"""The registered recipes; their parameters were chosen on the validation split (notebook 12)."""


def pipeline_names() -> tuple[str, ...]:
    return tuple(PIPELINES)


def pipeline_recipe(name: str) -> PipelineRecipe:
    if name not in PIPELINES:
        raise UnknownNameError("pipeline", name, tuple(PIPELINES))
    return PIPELINES[name]


@dataclass
class BuiltPipeline:
    """A registered pipeline, trained and fitted: ``pipeline.query(images)`` searches."""

    name: str
    recipe: PipelineRecipe
    trained: list[TrainedAutoencoder]
    """The autoencoders its features come from."""
    pipeline: SearchPipeline
    fit_seconds: float
    """Encoding the gallery and fitting the whitening and re-ranking."""

    @property
    def train_seconds(self) -> float:
        return sum(model.seconds_per_epoch * model.epochs_run for model in self.trained)

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        return self.pipeline.query(images, k)


def build_pipeline(
    name: str, data: Dataset | None = None, epochs: int | None = None
) -> BuiltPipeline:
    """Train (or load) the named recipe's model and index ``data``'s training split.

    Args:
        data: the recipe's dataset, loaded when not given (a subset of it is
            fine, e.g. in the smoke profile).
        epochs: overrides the recipe's training budget (the smoke profile).
    """
    recipe = pipeline_recipe(name)
    if data is None:
        data = load_dataset(recipe.dataset)
    if data.name != recipe.dataset:
        raise InvalidInputError(
            f"pipeline {name!r} is made for {recipe.dataset}, got the {data.name} dataset"
        )
    trained: list[TrainedAutoencoder] = []
    encoder = features_encoder(recipe.features, data, data.x_train, epochs, trained)
    start = time.perf_counter()
    pipeline = SearchPipeline(encoder, **recipe.steps()).fit(data.x_train, data.y_train)
    return BuiltPipeline(name, recipe, trained, pipeline, time.perf_counter() - start)


def train_model(model: str, data: Dataset, epochs: int | None = None) -> TrainedAutoencoder:
    """A registered model, with the benchmark's recipe, trained on ``data``'s training split
    (or loaded from the cache).

    Training holds out the same validation images as
    :func:`~aesearch_utils.ablation.validation_split`.
    """
    config = benchmark_config(model, data.image_shape, epochs)
    return train_autoencoder(config, data.x_train, data.y_train, dataset=data.name)


def features_encoder(
    spec: str,
    data: Dataset,
    gallery: np.ndarray,
    epochs: int | None = None,
    trained: list[TrainedAutoencoder] | None = None,
) -> Encoder:
    """The encoder a feature ``spec`` names; it is named after the spec.

    - ``"raw"``: the pixels; ``"pca:N"``: PCA fitted on ``gallery``;
    - ``"MODEL:FEATURES"``, optionally ``+flip``: the registered autoencoder
      ``MODEL``, trained on ``data``'s training split, read at ``FEATURES``
      (``latent``, ``pool1``, ...; see :class:`~aesearch_utils.encoders.LayerEncoder`);
    - ``"A@DIMS^POWER + B@DIMS^POWER"``: a :class:`~aesearch_utils.encoders.ConcatenatedEncoder`
      of such encoders, each whitened to ``DIMS`` with ``POWER``, fitted on ``gallery``.

    ``trained`` collects the autoencoders used, for their training time.
    """
    trained = trained if trained is not None else []
    if " + " in spec:
        parts = []
        for part in spec.split(" + "):
            inner, _, whitening = part.partition("@")
            dims, _, power = whitening.partition("^")
            if not dims.isdigit():
                raise InvalidInputError(
                    f"each part of a concatenation is written 'SPEC@DIMS^POWER', got {part!r}"
                )
            encoder = features_encoder(inner, data, gallery, epochs, trained)
            parts.append((encoder, int(dims), float(power or 0.5)))
        return ConcatenatedEncoder(parts, name=spec).fit(gallery)
    name, _, features = spec.partition(":")
    if name == "raw":
        encoder: Encoder = PixelEncoder(data.image_shape)
    elif name == "pca":
        if not features.isdigit():
            raise InvalidInputError(f"a PCA spec is written 'pca:N', got {spec!r}")
        encoder = PCAEncoder(int(features)).fit(gallery)
    elif name in model_names():
        features, _, flip = features.partition("+")
        if flip not in ("", "flip"):
            raise InvalidInputError(f"the only feature option is '+flip', got {spec!r}")
        trained.append(train_model(name, data, epochs))
        encoder = LayerEncoder(trained[-1].model, features or "latent", flip == "flip")
    else:
        raise UnknownNameError("feature spec model", name, ("raw", "pca", *model_names()))
    encoder.name = spec
    return encoder


def measure_pipeline(
    pipeline: SearchPipeline,
    data: Dataset,
    *,
    name: str,
    kind: str,
    train_seconds: float = 0.0,
    fit_seconds: float = 0.0,
    k: int = 10,
    map_k: int = 100,
    latency_queries: int = 100,
) -> dict[str, Any]:
    """Test-split quality and cost of a pipeline fitted on ``data``'s training split.

    ``query_ms_p50`` is one encoded query's search, re-ranking included; the
    encoding itself is ``encode_images_per_s``.
    """
    if data.y_train is None or data.y_test is None:
        raise InvalidInputError(f"{data.name}: measuring a pipeline needs labelled images")
    start = time.perf_counter()
    features = encode_in_chunks(pipeline.encoder, data.x_test, progress=False)
    images_per_second = len(features) / (time.perf_counter() - start)
    labels = pipeline.query_features(features, map_k).labels
    return {
        "dataset": data.name,
        "pipeline": name,
        "kind": kind,
        "steps": pipeline.name,
        **retrieval_scores(data.y_test, labels, data.y_train, k, map_k),
        "train_seconds": round(train_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "encode_images_per_s": round(images_per_second),
        "query_ms_p50": round(
            median_latency_ms(
                lambda vector: pipeline.query_features(vector, k), features[:latency_queries]
            ),
            3,
        ),
    }
