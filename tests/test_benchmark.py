import numpy as np
import pandas as pd
import pytest

from aesearch_utils.course import benchmark
from aesearch_utils.data import Dataset
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.models import model_names
from aesearch_utils.search.encoders import PCAEncoder, PixelEncoder
from aesearch_utils.training import TrainingConfig, benchmark_config, fits

MNIST, CIFAR = (28, 28, 1), (32, 32, 3)


def test_recipes_match_the_notebooks_so_their_cached_models_are_reused():
    assert benchmark_config("dense", MNIST) == TrainingConfig("dense", 32, epochs=20)
    assert benchmark_config("conv_bn", MNIST) == TrainingConfig("conv_bn", 196, epochs=6)
    assert benchmark_config("conv_transpose", CIFAR).latent_dim == 8 * 8 * 4
    assert benchmark_config("conv_deep", CIFAR, epochs=1).epochs == 1


def test_every_registered_model_has_a_recipe_that_fits_some_dataset():
    for name in model_names():
        fitting = [shape for shape in (MNIST, CIFAR) if fits(benchmark_config(name, shape), shape)]
        assert fitting, name
    assert not fits(benchmark_config("conv_deep", MNIST), MNIST)


def test_the_full_profile_benchmarks_the_models_the_course_trains_anyway():
    assert benchmark.benchmarked_models("cifar10", "course") == ("conv_deep",)
    assert benchmark.benchmarked_models("mnist", "all") == tuple(model_names())
    assert set(benchmark.benchmarked_models("mnist", "course")) < set(model_names())
    with pytest.raises(UnknownNameError, match="known benchmark model sets: course, all"):
        benchmark.benchmarked_models("mnist", "some")


def separable(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """4x4 images bright on the left or on the right: any sensible features tell them apart."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = rng.integers(0, 30, (count, 4, 4, 1))
    images[labels == 0, :, :2] += 200
    images[labels == 1, :, 2:] += 200
    return images.astype(np.uint8), labels


def test_measure_features_rows_per_metric_with_quality_and_cost():
    x_train, y_train = separable(120, seed=0)
    x_test, y_test = separable(30, seed=1)
    data = Dataset("toy", x_train, y_train, x_test, y_test, ("left", "right"))
    rows = benchmark.measure_features(
        PixelEncoder((4, 4, 1)), data, kind="baseline", train_seconds=0, test_mse=None,
        k=5, map_k=20, latency_queries=5,
    )  # fmt: skip
    assert [row["metric"] for row in rows] == list(benchmark.EVALUATED_METRICS)
    for row in rows:
        assert row["precision_at_5"] == 1.0 and row["map_at_20"] == 1.0
        assert row["seed_precision_at_7"] == 1.0
        assert row["features"] == "raw_pixels" and row["latent_dim"] == 16
        assert row["encode_images_per_s"] > 0 and row["query_ms_p50"] > 0


def test_measure_features_needs_labels_and_a_fitted_encoder():
    x_train, y_train = separable(20, seed=0)
    unlabelled = Dataset("toy", x_train, None, x_train, None, ("left", "right"))
    with pytest.raises(InvalidInputError, match="labelled"):
        benchmark.measure_features(
            PixelEncoder((4, 4, 1)), unlabelled, kind="baseline", train_seconds=0, test_mse=None
        )
    labelled = Dataset("toy", x_train, y_train, x_train, y_train, ("left", "right"))
    with pytest.raises(InvalidInputError, match="fit the PCA"):
        benchmark.measure_features(
            PCAEncoder(2), labelled, kind="baseline", train_seconds=0, test_mse=None
        )


def test_verdict_names_the_autoencoders_above_the_best_baseline():
    table = pd.DataFrame(
        [
            ("mnist", "raw_pixels", "baseline", "cosine", 0.95),
            ("mnist", "pca_32", "baseline", "cosine", 0.96),
            ("mnist", "dense", "autoencoder", "cosine", 0.97),
            ("mnist", "conv_bn", "autoencoder", "cosine", 0.94),
            ("cifar10", "raw_pixels", "baseline", "cosine", 0.30),
            ("cifar10", "dense", "autoencoder", "cosine", 0.25),
        ],
        columns=["dataset", "features", "kind", "metric", "precision_at_10"],
    )
    assert benchmark.verdict(table) == [
        "mnist, cosine: the best baseline is pca_32 (precision_at_10 0.960); "
        "beaten by dense (0.970).",
        "cifar10, cosine: the best baseline is raw_pixels (precision_at_10 0.300); "
        "no autoencoder beats it (best: dense (0.250)).",
    ]
