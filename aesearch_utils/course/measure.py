"""One way to measure a search, for every results row of the course.

Notebooks 02-06 (:func:`~aesearch_utils.course.experiment.evaluate`), 11
(:func:`~aesearch_utils.course.benchmark.measure_features`) and 12
(:func:`measure_pipeline`) all do the same thing: encode the test split
(timed), search the training split with every test image, score the
rankings with the labels, and time single queries. They differ only in what
they search with and which columns they keep, so they share
:func:`encode_timed` and :func:`search_scores`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from aesearch_utils.batching import PREDICT_BATCH
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.array_cache import MIN_CACHED_ROWS
from aesearch_utils.search.encoders import Encoder, encode_images
from aesearch_utils.search.index import SearchResult
from aesearch_utils.search.metrics import (
    average_precision_per_query,
    bootstrap_interval,
    precision_per_query,
    retrieval_scores,
)
from aesearch_utils.search.pipeline import SearchPipeline

Search = Callable[[np.ndarray, int], SearchResult]
"""Encoded query vectors and k to results: ``index.query_vectors``, ``pipeline.query_features``."""


def labelled(data: Dataset, purpose: str) -> tuple[np.ndarray, np.ndarray]:
    """The training and test labels; a clear error when ``data`` has none."""
    if data.y_train is None or data.y_test is None:
        raise InvalidInputError(f"{data.name}: {purpose} needs labelled images")
    return data.y_train, data.y_test


TIMED_IMAGES = MIN_CACHED_ROWS // 4
"""The encoding throughput is timed on this many images: fewer than the array cache keeps, so
they are always encoded, in a rerun too; two full predict batches of a model."""


LATENCY_QUERIES = 30
"""Single queries whose median is a search's latency: thirty give a steady median, and each
one searches the whole gallery (notebooks 11 and 12 time dozens of searches per dataset)."""


def encode_timed(encoder: Encoder, images: np.ndarray) -> tuple[np.ndarray, float]:
    """The vectors of ``images`` (read from the array cache when it holds them) and the
    encoding throughput in images per second, timed on the first :data:`TIMED_IMAGES`."""
    sample = images[:TIMED_IMAGES]
    # a model's first batch builds its graph, which is not part of the rate
    encode_images(encoder, sample[:PREDICT_BATCH])
    start = time.perf_counter()
    encode_images(encoder, sample)
    images_per_second = len(sample) / (time.perf_counter() - start)
    return encode_images(encoder, images), images_per_second


def median_latency_ms(search: Callable[[np.ndarray], object], vectors: np.ndarray) -> float:
    """Median time of ``search`` on one vector at a time, as a user would send queries."""
    search(vectors[:1])  # warm-up
    times = []
    for row in range(len(vectors)):
        start = time.perf_counter()
        search(vectors[row : row + 1])
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def search_scores(
    search: Search,
    queries: np.ndarray,
    data: Dataset,
    *,
    k: int = 10,
    map_k: int = 100,
    latency_queries: int = LATENCY_QUERIES,
) -> tuple[dict[str, float], np.ndarray]:
    """Scores of ``search`` for the encoded test ``queries`` against ``data``'s training split.

    Returns precision@k and both mAP@map_k (:func:`~aesearch_utils.search.metrics.retrieval_scores`)
    with ``query_ms_p50``, the median latency of one query, and the retrieved
    labels ``(queries, map_k)`` for further scores.
    """
    gallery_labels, query_labels = labelled(data, "measuring retrieval")
    retrieved = search(queries, map_k).labels
    scores = retrieval_scores(query_labels, retrieved, gallery_labels, k, map_k)
    latency = median_latency_ms(lambda vector: search(vector, k), queries[:latency_queries])
    return scores | {"query_ms_p50": round(latency, 3)}, retrieved


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
    latency_queries: int = LATENCY_QUERIES,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Test-split quality and cost of a pipeline fitted on ``data``'s training split.

    Returns the results row and each query's scores (``precision_at_k`` and
    ``map_at_map_k_retrieved``), for paired comparisons. The row's ``_low`` and
    ``_high`` columns are the 95 % bootstrap interval over the test queries.
    ``query_ms_p50`` is one encoded query's search, re-ranking included; the
    encoding itself is ``encode_images_per_s``.
    """
    gallery_labels, query_labels = labelled(data, "measuring a pipeline")
    queries, images_per_second = encode_timed(pipeline.encoder, data.x_test)
    scores, retrieved = search_scores(
        pipeline.query_features, queries, data, k=k, map_k=map_k, latency_queries=latency_queries
    )
    per_query = {
        f"precision_at_{k}": precision_per_query(query_labels, retrieved, k),
        f"map_at_{map_k}_retrieved": average_precision_per_query(
            query_labels, retrieved, gallery_labels, map_k, "retrieved"
        ),
    }
    intervals = {}
    for score, values in per_query.items():
        low, high = bootstrap_interval(values)
        intervals |= {f"{score}_low": round(low, 4), f"{score}_high": round(high, 4)}
    row = {
        "dataset": data.name,
        "pipeline": name,
        "kind": kind,
        "steps": pipeline.steps,
        **{key: value for key, value in scores.items() if key != "query_ms_p50"},
        **intervals,
        "train_seconds": round(train_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "encode_images_per_s": round(images_per_second),
        "query_ms_p50": scores["query_ms_p50"],
    }
    return row, per_query
