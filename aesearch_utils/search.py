"""Exact nearest-neighbour search over latent vectors, in blocks of queries.

Euclidean and cosine search use FAISS's flat (brute-force, exact) index: it
compares blocks of queries with the gallery by matrix products and keeps the
``k`` best per query in a heap, which is several times faster than selecting
them with NumPy (``argpartition`` took 3.5 of 4.8 s for 10,000 x 60,000 here).
Manhattan distances come from SciPy's ``cdist`` a block of queries at a time.
Either way, memory holds one block of at most :data:`MAX_BLOCK_VALUES`
distances, never the whole ``queries x gallery`` matrix.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from aesearch_utils.errors import InvalidInputError, UnknownNameError

METRICS = ("euclidean", "cosine", "manhattan")
MAX_BLOCK_VALUES = 2**24
"""Distances held at once (64 MiB of float32): bounds the query block size."""


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    """Each vector (along the last axis) divided by its L2 norm; zero vectors stay zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def exact_index(gallery: np.ndarray, metric: str):
    """A FAISS flat index over ``gallery`` for euclidean or cosine search."""
    import faiss

    gallery = np.ascontiguousarray(gallery, dtype=np.float32)
    if metric == "cosine":
        index = faiss.IndexFlatIP(gallery.shape[1])
        index.add(unit_vectors(gallery))
    else:
        index = faiss.IndexFlatL2(gallery.shape[1])
        index.add(gallery)
    return index


def search_exact_index(
    index, queries: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Search an :func:`exact_index`; distances as :func:`nearest_neighbours` defines them."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "cosine":
        similarities, ids = index.search(unit_vectors(queries), k)
        return ids.astype(np.int64), (1.0 - similarities).astype(np.float32)
    squared, ids = index.search(queries, k)
    return ids.astype(np.int64), np.sqrt(np.maximum(squared, 0)).astype(np.float32)


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
    if metric != "manhattan":
        return search_exact_index(exact_index(gallery, metric), queries, k, metric)

    batch_size = max(1, min(batch_size, MAX_BLOCK_VALUES // len(gallery)))
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), batch_size):
        scores = cdist(queries[start : start + batch_size], gallery, "cityblock")
        nearest = np.argpartition(scores, k - 1, axis=1)[:, :k]
        nearest_scores = np.take_along_axis(scores, nearest, axis=1)
        order = np.argsort(nearest_scores, axis=1, kind="stable")
        rows = slice(start, start + len(scores))
        indices[rows] = np.take_along_axis(nearest, order, axis=1)
        distances[rows] = np.take_along_axis(nearest_scores, order, axis=1)
    return indices, distances
