"""The benchmark (notebook 11): every registered model and the baselines, measured alike.

Each set of features (an autoencoder's latent, the raw pixels, PCA with the
latent's size, the classic HOG and colour-histogram descriptors) encodes the
training split as the gallery and the test split as the queries; exact
search under each metric then gives precision@10, mAP@100 and the seed
reports' protocol (precision@7 over the first 100 test images), beside the
cost: training time, encoding throughput, and the latency of one query.

A model's recipe (latent size, epochs) is the one its own notebook uses
(:mod:`aesearch_utils.training.recipes`), so the benchmark reuses the models
those notebooks trained and cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aesearch_utils.course.measure import LATENCY_QUERIES, encode_timed, labelled, search_scores
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import UnknownNameError
from aesearch_utils.models import model_names
from aesearch_utils.search.encoders import Encoder, encode_images
from aesearch_utils.search.index import ImageIndex
from aesearch_utils.search.metrics import precision_at_k

EVALUATED_METRICS = ("euclidean", "cosine")
MODEL_SETS = ("course", "all")
COURSE_MODELS: dict[str, tuple[str, ...]] = {
    "mnist": ("dense", "conv_upsampling", "conv_transpose", "conv_fc_upsampling",
              "conv_fc_transpose", "conv_bn", "vae_dense"),
    "fashion_mnist": ("dense", "conv_fc_transpose"),
    "cifar10": ("conv_deep",),
}  # fmt: skip
"""Per dataset, the models the full profile benchmarks: those its other notebooks train on the
whole training split anyway (notebooks 02-07 on MNIST, the registered pipelines' models), so
they come from the cache. The extended profile benchmarks every registered model."""
CLASSIC_BASELINES: dict[str, tuple[str, ...]] = {
    "mnist": ("hog",),
    "fashion_mnist": ("hog",),
    "cifar10": ("hog", "colour:8", "colour:8@512^0 + hog@128^0.5"),
}
"""Per dataset, the classic descriptors (feature specs) benchmarked beside pixels and PCA: local
shape everywhere, colour where there is colour."""
SEED_PROTOCOL = {"k": 7, "queries": 100}
"""The seed report's "accuracy": precision@7 over the first 100 test images."""


def benchmarked_models(dataset: str, models: str) -> tuple[str, ...]:
    """The models a run measures: ``"course"`` (:data:`COURSE_MODELS`) or ``"all"``."""
    if models not in MODEL_SETS:
        raise UnknownNameError("benchmark model set", models, MODEL_SETS)
    return tuple(model_names()) if models == "all" else COURSE_MODELS.get(dataset, ())


def dataset_table(
    results_dir: Path, dataset: str, measured_now: list[dict[str, Any]]
) -> pd.DataFrame:
    """``dataset``'s rows of ``benchmark.csv``, with a column ``run`` that says which rows
    this run measured and which come from an earlier run (the extended profile's)."""
    table = pd.read_csv(results_dir / "benchmark.csv")
    table = table[table["dataset"] == dataset].reset_index(drop=True)
    now = {(row["features"], row["metric"]) for row in measured_now}
    measured = [
        (features, metric) in now
        for features, metric in zip(table["features"], table["metric"], strict=True)
    ]
    return table.assign(run=["this run" if flag else "earlier run" for flag in measured])


def measure_features(
    encoder: Encoder,
    data: Dataset,
    *,
    kind: str,
    train_seconds: float,
    test_mse: float | None,
    k: int = 10,
    map_k: int = 100,
    latency_queries: int = LATENCY_QUERIES,
) -> list[dict[str, Any]]:
    """One row per metric: retrieval quality and cost of ``encoder``'s features on ``data``.

    ``kind`` says what the features are ("autoencoder" or "baseline").
    """
    gallery_labels, query_labels = labelled(data, "the benchmark")
    gallery = encode_images(encoder, data.x_train)
    queries, images_per_second = encode_timed(encoder, data.x_test)
    seed_queries = min(SEED_PROTOCOL["queries"], len(queries))
    rows = []
    for metric in EVALUATED_METRICS:
        index = ImageIndex(gallery, gallery_labels, encoder, data.image_shape, metric)
        scores, retrieved = search_scores(
            index.query_vectors, queries, data, k=k, map_k=map_k, latency_queries=latency_queries
        )
        rows.append(
            {
                "dataset": data.name,
                "features": encoder.name,
                "kind": kind,
                "latent_dim": encoder.output_dim,
                "metric": metric,
                f"precision_at_{k}": scores[f"precision_at_{k}"],
                f"map_at_{map_k}": scores[f"map_at_{map_k}"],
                "seed_precision_at_7": round(
                    precision_at_k(
                        query_labels[:seed_queries], retrieved[:seed_queries], SEED_PROTOCOL["k"]
                    ),
                    4,
                ),
                "test_mse": None if test_mse is None else round(test_mse, 5),
                "train_seconds": round(train_seconds, 1),
                "encode_images_per_s": round(images_per_second),
                "query_ms_p50": scores["query_ms_p50"],
            }
        )
    return rows


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
