"""Retrieval quality measured with labels: relevant means "same class as the query"."""

from __future__ import annotations

import numpy as np

from aesearch_utils.errors import InvalidInputError


def precision_at_k(query_labels: np.ndarray, retrieved_labels: np.ndarray, k: int) -> float:
    """Mean over queries of the share of the first ``k`` results with the query's label.

    ``retrieved_labels`` has one row per query, nearest result first.
    """
    retrieved_labels = np.asarray(retrieved_labels)
    if retrieved_labels.ndim != 2 or len(retrieved_labels) != len(query_labels):
        raise InvalidInputError(
            f"retrieved_labels must have one row per query ({len(query_labels)}), "
            f"got shape {retrieved_labels.shape}"
        )
    if not 1 <= k <= retrieved_labels.shape[1]:
        raise InvalidInputError(f"k must be between 1 and {retrieved_labels.shape[1]}, got {k}")
    relevant = retrieved_labels[:, :k] == np.asarray(query_labels)[:, None]
    return float(relevant.mean())


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


def mean_average_precision_at_k(
    query_labels: np.ndarray, retrieved_labels: np.ndarray, gallery_labels: np.ndarray, k: int
) -> float:
    """mAP@k: the mean over queries of AP@k.

    AP@k sums the precision at every rank ``i <= k`` that holds a relevant item
    and divides by ``min(k, number of relevant gallery items)``, so a perfect
    ranking scores 1. With ``k`` equal to the gallery size it is the usual
    average precision (scikit-learn's ``average_precision_score``).
    """
    relevant_at = _relevance(query_labels, retrieved_labels, k)
    ranks = np.arange(1, k + 1)
    precision_at = np.cumsum(relevant_at, axis=1) / ranks
    relevant = _relevant_counts(np.asarray(query_labels), np.asarray(gallery_labels))
    normaliser = np.minimum(k, relevant)
    sums = (precision_at * relevant_at).sum(axis=1)
    return float(
        np.mean(np.divide(sums, normaliser, out=np.zeros(len(sums)), where=normaliser > 0))
    )


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
