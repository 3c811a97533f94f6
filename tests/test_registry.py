"""The registered pipelines: what validation chose, built with one seed throughout."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from aesearch_utils import config, training
from aesearch_utils.course.ablation import (
    ABLATION_FILE,
    ROBUSTNESS_FILE,
    chosen_settings,
    matches_recipe,
    setting_of,
)
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.models import build_autoencoder
from aesearch_utils.search.registry import (
    BuiltPipeline,
    build_pipeline,
    features_encoder,
    pipeline_names,
    pipeline_recipe,
)


def test_every_registered_recipe_is_what_its_validation_chose():
    """Notebook 12's rule (``chosen_settings``) over the committed validation tables."""
    results = config.project_root() / "results"
    table = pd.read_csv(results / ABLATION_FILE)
    robustness = pd.read_csv(results / ROBUSTNESS_FILE)
    for name in pipeline_names():
        recipe = pipeline_recipe(name)
        chosen, _ = chosen_settings(
            table[table["dataset"] == recipe.dataset],
            robustness[robustness["dataset"] == recipe.dataset],
        )
        assert matches_recipe(chosen, recipe), (
            f"{name}: validation chose {chosen['features']} {setting_of(chosen)}, "
            f"the registry holds {recipe.features} {recipe.settings()}"
        )


def test_a_recipe_that_differs_from_the_choice_is_caught():
    row = pd.Series(
        {"features": "conv_fc_transpose:pool1+levels@128^0.75 + dense:latent+levels@32^0.5",
         "whiten_dims": 0, "whiten_power": 0.0, "expansion_k": 5}
    )  # fmt: skip
    assert not matches_recipe(row, pipeline_recipe("fashion_mnist-best"))  # it re-ranks with 3
    assert matches_recipe(row.copy().replace(5, 3), pipeline_recipe("fashion_mnist-best"))


def test_unknown_names_list_the_registered_ones():
    with pytest.raises(UnknownNameError, match="mnist-best, fashion_mnist-best, cifar10-best"):
        pipeline_recipe("mnist-fastest")


def fake_training(monkeypatch, model_name: str, input_shape) -> list[int]:
    """Replace training with an untrained model; return the seeds training was asked for."""
    seeds: list[int] = []

    def train_model(name, data, epochs=None, seed=0):
        seeds.append(seed)
        return SimpleNamespace(
            model=build_autoencoder(model_name, input_shape, 32),
            seconds_per_epoch=0,
            epochs_run=0,
            path=Path("never-saved.keras"),
        )

    monkeypatch.setattr(training, "train_model", train_model)
    return seeds


def test_the_seed_reaches_training(monkeypatch):
    """Notebook 12 splits validation with SEED; training must hold out the same images."""
    seeds = fake_training(monkeypatch, "conv_fc_transpose", (28, 28, 1))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    data = Dataset(
        "mnist", images, np.arange(40) % 10, images[:5], np.arange(5), tuple("0123456789")
    )
    features_encoder("conv_fc_transpose:pool2", data, images, seed=7)
    built = build_pipeline("mnist-best", data, seed=5)
    assert seeds == [7, 5]
    assert built.query(images[3], k=1).ids[0, 0] == 3
    assert built.pipeline.metadata["pipeline"] == "mnist-best"
    with pytest.raises(InvalidInputError, match="made for mnist"):
        build_pipeline("mnist-best", Dataset("toy", images, None, images, None, ()))


def test_a_model_read_at_two_layers_counts_its_training_once():
    model = SimpleNamespace(path="cifar10-conv_deep.keras", train_seconds=700.0)
    other = SimpleNamespace(path="cifar10-dense.keras", train_seconds=20.0)
    built = BuiltPipeline("cifar10-best", None, None, 0.0, [model, model, other])
    assert built.train_seconds == 720.0
