"""Retrieval quality measured with labels: relevant means "same class as the query"."""

from __future__ import annotations

import numpy as np

from aesearch_utils.errors import InvalidInputError, UnknownNameError


def precision_at_k(query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int) -> float:
    """Mean over queries of the share of the first ``k`` results with the query's label.

    ``retrieved_labels`` has one row per query, nearest result first.
    """
    retrieved_labels = np.asarray(retrieved_labels)
    if len(query_labels) == 0:
        raise InvalidInputError("no queries to score: a mean over zero queries is undefined")
    if retrieved_labels.ndim != 2 or len(retrieved_labels) != len(query_labels):
        raise InvalidInputError(
            f"retrieved_labels must have one row per query ({len(query_labels)}), "
            f"got shape {retrieved_labels.shape}"
        )
    if not 1 <= k <= retrieved_labels.shape[1]:
        raise InvalidInputError(f"k must be between 1 and {retrieved_labels.shape[1]}, got {k}")
    relevant = retrieved_labels[:, :k] == np.asarray(query_labels)[:, None]
    return float(relevant.mean())


def precision_per_query(
    query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int
) -> np.ndarray:
    """Each query's share of its first ``k`` results with its own label: the values whose mean
    is :func:`precision_at_k`, for error bars (:func:`bootstrap_interval`)."""
    return _relevance(query_labels, retrieved_labels, k).mean(axis=1)


def bootstrap_interval(
    values: np.ndarray, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` (one per test query).

    Resampling the queries with replacement asks how much the mean would move
    with another test set drawn the same way; for a difference between two
    searches, pass their per-query differences (a paired bootstrap), which
    cancels the queries that are hard for both.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise InvalidInputError(f"bootstrap needs a non-empty 1-D array, got {values.shape}")
    if not 0 < level < 1:
        raise InvalidInputError(f"level must be between 0 and 1, got {level}")
    rng = np.random.default_rng(seed)
    means = np.array(
        [values[rng.integers(0, len(values), len(values))].mean() for _ in range(resamples)]
    )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _relevance(query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int) -> np.ndarray:
    precision_at_k(query_labels, retrieved_labels, k)  # the same argument checks
    return np.asarray(retrieved_labels)[:, :k] == np.asarray(query_labels)[:, None]


def _relevant_counts(query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """How many gallery items share each query's label."""
    classes = max(int(np.max(gallery_labels)), int(np.max(query_labels))) + 1
    return np.bincount(gallery_labels, minlength=classes)[query_labels]


def recall_at_k(
    query_labels: np.ndarray, retrieved_labels: np.ndarray, gallery_labels: np.ndarray, k: int
) -> float:
    """Mean over queries of the share of *all* relevant gallery items found in the first ``k``."""
    found = _relevance(query_labels, retrieved_labels, k).sum(axis=1)
    relevant = _relevant_counts(np.asarray(query_labels), np.asarray(gallery_labels))
    return float(np.mean(np.divide(found, relevant, out=np.zeros(len(found)), where=relevant > 0)))


AP_NORMALISERS = ("relevant", "retrieved")


def mean_average_precision_at_k(
    query_labels: np.ndarray,
    retrieved_labels: np.ndarray,
    gallery_labels: np.ndarray,
    k: int,
    normaliser: str = "relevant",
) -> float:
    """mAP@k: the mean over queries of AP@k (:func:`average_precision_per_query`)."""
    return float(
        np.mean(
            average_precision_per_query(
                query_labels, retrieved_labels, gallery_labels, k, normaliser
            )
        )
    )


def average_precision_per_query(
    query_labels: np.ndarray,
    retrieved_labels: np.ndarray,
    gallery_labels: np.ndarray,
    k: int,
    normaliser: str = "relevant",
) -> np.ndarray:
    """Each query's AP@k.

    AP@k sums the precision at every rank ``i <= k`` that holds a relevant item
    and divides it by

    - ``"relevant"`` (default): ``min(k, number of relevant gallery items)``, so
      only a top ``k`` made entirely of relevant items scores 1. With ``k``
      equal to the gallery size it is the usual average precision
      (scikit-learn's ``average_precision_score``).
    - ``"retrieved"``: the number of relevant items found in the top ``k``
      (0 when none is found). This one rewards putting the relevant results
      first but does not penalise missing ones; it is the definition issue 6's
      targets were measured with, and it is always at least the first.
    """
    if normaliser not in AP_NORMALISERS:
        raise UnknownNameError("normaliser", normaliser, AP_NORMALISERS)
    relevant_at = _relevance(query_labels, retrieved_labels, k)
    ranks = np.arange(1, k + 1)
    precision_at = np.cumsum(relevant_at, axis=1) / ranks
    if normaliser == "retrieved":
        divisor = relevant_at.sum(axis=1)
    else:
        relevant = _relevant_counts(np.asarray(query_labels), np.asarray(gallery_labels))
        divisor = np.minimum(k, relevant)
    sums = (precision_at * relevant_at).sum(axis=1)
    return np.divide(sums, divisor, out=np.zeros(len(sums)), where=divisor > 0)


def retrieval_scores(
    query_labels: np.ndarray,
    retrieved_labels: np.ndarray,
    gallery_labels: np.ndarray,
    k: int = 10,
    map_k: int = 100,
) -> dict[str, float]:
    """precision@k and both mAP@map_k (see :func:`mean_average_precision_at_k`), rounded."""
    return {
        f"precision_at_{k}": round(precision_at_k(query_labels, retrieved_labels, k), 4),
        f"map_at_{map_k}": round(
            mean_average_precision_at_k(query_labels, retrieved_labels, gallery_labels, map_k), 4
        ),
        f"map_at_{map_k}_retrieved": round(
            mean_average_precision_at_k(
                query_labels, retrieved_labels, gallery_labels, map_k, "retrieved"
            ),
            4,
        ),
    }


def precision_at_k_per_class(
    query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int
) -> dict[int, float]:
    """precision@k averaged separately over the queries of each class present."""
    query_labels = np.asarray(query_labels)
    relevant = _relevance(query_labels, retrieved_labels, k)
    return {
        int(label): float(relevant[query_labels == label].mean())
        for label in np.unique(query_labels)
    }


def retrieval_confusion(
    query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int, classes: int
) -> np.ndarray:
    """``(classes, classes)`` matrix: row ``i`` is how the top ``k`` of class-``i`` queries
    split over the gallery's classes (each row sums to 1; the diagonal is precision@k).

    Off-diagonal mass shows which classes the features mix up.
    """
    _relevance(query_labels, retrieved_labels, k)  # the argument checks
    query_labels = np.asarray(query_labels)
    top = np.asarray(retrieved_labels)[:, :k]
    counts = np.zeros((classes, classes), dtype=np.float64)
    np.add.at(counts, (np.repeat(query_labels, k), top.ravel()), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
