"""Exact nearest-neighbour search over latent vectors, in batches of queries.

Distances for a block of queries against the whole gallery are computed at
once (a matrix product; ``cdist`` for manhattan), and only the ``k`` smallest
per query are kept, so memory stays at one block of at most
:data:`MAX_BLOCK_VALUES` distances, never ``queries x gallery``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from aesearch_utils.errors import InvalidInputError, UnknownNameError

METRICS = ("euclidean", "cosine", "manhattan")
MAX_BLOCK_VALUES = 2**24
"""Distances held at once (64 MiB of float32): bounds the query block size."""


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def nearest_neighbours(
    queries: np.ndarray,
    gallery: np.ndarray,
    k: int,
    metric: str = "euclidean",
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery vectors nearest to each query: ``(indices, distances)``, nearest first.

    Both results have shape ``(len(queries), k)``. Euclidean distances are
    true (not squared) distances; cosine distance is ``1 - cosine similarity``;
    manhattan is the sum of absolute differences.
    """
    if metric not in METRICS:
        raise UnknownNameError("metric", metric, METRICS)
    queries = np.asarray(queries, dtype=np.float32)
    gallery = np.asarray(gallery, dtype=np.float32)
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise InvalidInputError(
            f"queries {queries.shape} and gallery {gallery.shape} must be 2-D with the same "
            "number of columns (latent size)"
        )
    if not 1 <= k <= len(gallery):
        raise InvalidInputError(f"k must be between 1 and the gallery size {len(gallery)}, got {k}")
    if metric == "cosine":
        queries, gallery = _normalised(queries), _normalised(gallery)
    gallery_norms = np.einsum("ij,ij->i", gallery, gallery) if metric == "euclidean" else None
    batch_size = max(1, min(batch_size, MAX_BLOCK_VALUES // len(gallery)))

    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        if metric == "cosine":
            scores = 1.0 - batch @ gallery.T
        elif metric == "manhattan":
            scores = cdist(batch, gallery, "cityblock").astype(np.float32)
        else:  # |q - g|^2 = |q|^2 - 2 q.g + |g|^2, clipped: rounding can make it negative
            scores = np.einsum("ij,ij->i", batch, batch)[:, None] - 2 * batch @ gallery.T
            scores += gallery_norms
            np.maximum(scores, 0, out=scores)
        nearest = np.argpartition(scores, k - 1, axis=1)[:, :k]
        nearest_scores = np.take_along_axis(scores, nearest, axis=1)
        order = np.argsort(nearest_scores, axis=1, kind="stable")
        indices[start : start + len(batch)] = np.take_along_axis(nearest, order, axis=1)
        distances[start : start + len(batch)] = np.take_along_axis(nearest_scores, order, axis=1)
    if metric == "euclidean":
        np.sqrt(distances, out=distances)
    return indices, distances
