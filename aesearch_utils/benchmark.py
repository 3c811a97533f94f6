"""The benchmark: every registered model and the two baselines, measured the same way.

Each set of features (an autoencoder's latent, the raw pixels, PCA with the
latent's size) encodes the training split as the gallery and the test split
as the queries; exact search under each metric then gives precision@10,
mAP@100 and the seed reports' protocol (precision@7 over the first 100 test
images), beside the cost: training time, encoding throughput, and the
latency of one query.

A model's recipe (latent size, epochs) is the one its own notebook uses, so
the benchmark reuses the models those notebooks trained and cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.encoders import Encoder
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.index import ImageIndex, encode_in_chunks
from aesearch_utils.metrics import mean_average_precision_at_k, precision_at_k
from aesearch_utils.models import build_autoencoder
from aesearch_utils.training import TrainingConfig

FEATURE_MAP_MODELS = ("conv_upsampling", "conv_transpose", "conv_bn")
"""Models whose latent is the ``H/4 x W/4 x C`` feature map: the latent is 4 channels of it."""

LATENT_DIMS = {"conv_deep": 256}
"""Flat latent sizes that differ from the default of 32."""

EPOCHS = {"dense": 20, "vae_dense": 20}
"""Epoch budgets (at most: early stopping may end sooner) that differ from the default of 6."""

LOSSES = {"vae_dense": "binary_crossentropy", "vae_conv": "binary_crossentropy",
          "vae_gru": "binary_crossentropy"}  # fmt: skip
"""Reconstruction losses that differ from MSE: a VAE's pixels are Bernoulli, as in the seeds."""

EVALUATED_METRICS = ("euclidean", "cosine")
SEED_PROTOCOL = {"k": 7, "queries": 100}
"""The seed report's "accuracy": precision@7 over the first 100 test images."""


def benchmark_config(
    model: str, image_shape: tuple[int, int, int], epochs: int | None = None, seed: int = 0
) -> TrainingConfig:
    """The training recipe for ``model`` on images of ``image_shape``.

    ``epochs`` overrides the model's budget (the smoke profile trains briefly).
    """
    if model in FEATURE_MAP_MODELS:
        latent_dim = (image_shape[0] // 4) * (image_shape[1] // 4) * 4
    else:
        latent_dim = LATENT_DIMS.get(model, 32)
    return TrainingConfig(
        model,
        latent_dim,
        epochs=epochs if epochs is not None else EPOCHS.get(model, 6),
        loss=LOSSES.get(model, "mse"),
        seed=seed,
    )


def fits(config: TrainingConfig, image_shape: tuple[int, int, int]) -> bool:
    """Whether the model can be built for these images (e.g. ``conv_deep`` needs 32x32)."""
    try:
        build_autoencoder(config.model, image_shape, config.latent_dim, **config.options)
    except InvalidInputError:
        return False
    return True


def measure_features(
    encoder: Encoder,
    data: Dataset,
    *,
    kind: str,
    train_seconds: float,
    test_mse: float | None,
    k: int = 10,
    map_k: int = 100,
    latency_queries: int = 100,
) -> list[dict[str, Any]]:
    """One row per metric: retrieval quality and cost of ``encoder``'s features on ``data``.

    ``kind`` says what the features are ("autoencoder" or "baseline").
    """
    if data.y_train is None or data.y_test is None:
        raise InvalidInputError(f"{data.name}: the benchmark needs labelled images")
    gallery = encode_in_chunks(encoder, data.x_train, progress=False)
    start = time.perf_counter()
    queries = encode_in_chunks(encoder, data.x_test, progress=False)
    images_per_second = len(queries) / (time.perf_counter() - start)
    seed_queries = min(SEED_PROTOCOL["queries"], len(queries))
    rows = []
    for metric in EVALUATED_METRICS:
        index = ImageIndex(gallery, data.y_train, encoder, data.image_shape, metric)
        labels = index.query_vectors(queries, map_k).labels
        rows.append(
            {
                "dataset": data.name,
                "features": encoder.name,
                "kind": kind,
                "latent_dim": encoder.latent_dim,
                "metric": metric,
                f"precision_at_{k}": round(precision_at_k(data.y_test, labels, k), 4),
                f"map_at_{map_k}": round(
                    mean_average_precision_at_k(data.y_test, labels, data.y_train, map_k), 4
                ),
                "seed_precision_at_7": round(
                    precision_at_k(
                        data.y_test[:seed_queries], labels[:seed_queries], SEED_PROTOCOL["k"]
                    ),
                    4,
                ),
                "test_mse": None if test_mse is None else round(test_mse, 5),
                "train_seconds": round(train_seconds, 1),
                "encode_images_per_s": round(images_per_second),
                "query_ms_p50": round(
                    median_latency_ms(
                        lambda vector, index=index: index.query_vectors(vector, k),
                        queries[:latency_queries],
                    ),
                    3,
                ),
            }
        )
    return rows


def median_latency_ms(search: Callable[[np.ndarray], object], vectors: np.ndarray) -> float:
    """Median time of ``search`` on one vector at a time, as a user would send queries."""
    search(vectors[:1])  # warm-up
    times = []
    for row in range(len(vectors)):
        start = time.perf_counter()
        search(vectors[row : row + 1])
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def verdict(table: pd.DataFrame, score: str = "precision_at_10") -> list[str]:
    """Plain sentences, per dataset and metric: which autoencoders beat the best baseline."""
    sentences = []
    for (dataset, metric), group in table.groupby(["dataset", "metric"], sort=False):
        baselines = group[group["kind"] == "baseline"]
        models = group[group["kind"] == "autoencoder"].sort_values(score, ascending=False)
        if baselines.empty or models.empty:
            continue
        best = baselines.loc[baselines[score].idxmax()]
        above = models[models[score] > best[score]]
        sentences.append(
            f"{dataset}, {metric}: the best baseline is {best['features']} "
            f"({score} {best[score]:.3f}); "
            + (
                "beaten by " + _listing(above, score)
                if len(above)
                else f"no autoencoder beats it (best: {_listing(models.head(1), score)})"
            )
            + "."
        )
    return sentences


def _listing(rows: pd.DataFrame, score: str) -> str:
    return ", ".join(f"{row.features} ({getattr(row, score):.3f})" for row in rows.itertuples())
