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
