"""Exact nearest-neighbour search over vectors, in blocks of queries.

Euclidean and cosine search use FAISS's flat (brute-force, exact) index: it
compares blocks of queries with the gallery by matrix products and keeps the
``k`` best per query in a heap, which is several times faster than selecting
them with NumPy (``argpartition`` took 3.5 of 4.8 s for 10,000 x 60,000 here).
Manhattan distances come from SciPy's ``cdist`` a block of queries at a time.
A search of many queries is kept in the :mod:`~aesearch_utils.search.array_cache`.
Either way, memory holds one block of at most :data:`MAX_BLOCK_VALUES`
distances, never the whole ``queries x gallery`` matrix.

The argument checks live here too (:func:`check_vectors`, :func:`check_k`):
a NaN that reached FAISS would come back as row ``-1``, which NumPy reads as
the *last* gallery item, a wrong answer with no error.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.spatial.distance import cdist

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.array_cache import array_digest, cached_neighbours

METRICS = ("euclidean", "cosine", "manhattan")
MAX_BLOCK_VALUES = 2**24
"""Distances held at once (64 MiB of float32): bounds the query block size."""


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    """Each vector (along the last axis) divided by its L2 norm; zero vectors stay zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def check_vectors(vectors: np.ndarray, what: str, dims: int | None = None) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 ``(N, D)`` array with N >= 1, all finite.

    ``what`` names them in the error ("query vectors", "gallery vectors");
    ``dims``, when given, is the width they must have.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or (dims is not None and vectors.shape[1] != dims):
        width = f"{dims}" if dims is not None else "D"
        raise InvalidInputError(
            f"{what} must be a 2-D array (N, {width}), got shape {vectors.shape}"
        )
    if len(vectors) == 0:
        raise InvalidInputError(f"no {what} given: pass at least one")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise InvalidInputError(
            f"{len(rows)} {what} contain NaN or inf (rows {rows[:5].tolist()}"
            f"{', ...' if len(rows) > 5 else ''}): check the images and the encoder"
        )
    return vectors


def check_k(k: object, gallery_size: int) -> int:
    """``k`` as an int, if it is a whole number from 1 to ``gallery_size``."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InvalidInputError(
            f"k must be a whole number of results, got {k!r} ({type(k).__name__})"
        )
    if not 1 <= k <= gallery_size:
        raise InvalidInputError(f"k must be between 1 and the gallery size {gallery_size}, got {k}")
    return int(k)


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
        similarities, rows = index.search(unit_vectors(queries), k)
        return rows.astype(np.int64), (1.0 - similarities).astype(np.float32)
    squared, rows = index.search(queries, k)
    return rows.astype(np.int64), np.sqrt(np.maximum(squared, 0)).astype(np.float32)


def nearest_neighbours(
    queries: np.ndarray,
    gallery: np.ndarray,
    k: int,
    metric: str = "euclidean",
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery vectors nearest to each query: ``(rows, distances)``, nearest first.

    ``rows`` are row numbers of ``gallery``; both results have shape
    ``(len(queries), k)``. Euclidean distances are true (not squared)
    distances; cosine distance is ``1 - cosine similarity``; manhattan is the
    sum of absolute differences.
    """
    if metric not in METRICS:
        raise UnknownNameError("metric", metric, METRICS)
    gallery = check_vectors(gallery, "gallery vectors")
    queries = check_vectors(queries, "query vectors", gallery.shape[1])
    k = check_k(k, len(gallery))
    return cached_neighbours(
        lambda: array_digest(gallery),
        queries,
        k,
        metric,
        lambda: _nearest(queries, gallery, k, metric, batch_size),
    )


def _nearest(
    queries: np.ndarray, gallery: np.ndarray, k: int, metric: str, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    if metric != "manhattan":
        return search_exact_index(exact_index(gallery, metric), queries, k, metric)
    batch_size = max(1, min(batch_size, MAX_BLOCK_VALUES // len(gallery)))
    rows = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), batch_size):
        scores = cdist(queries[start : start + batch_size], gallery, "cityblock")
        nearest = np.argpartition(scores, k - 1, axis=1)[:, :k]
        nearest_scores = np.take_along_axis(scores, nearest, axis=1)
        order = np.argsort(nearest_scores, axis=1, kind="stable")
        block = slice(start, start + len(scores))
        rows[block] = np.take_along_axis(nearest, order, axis=1)
        distances[block] = np.take_along_axis(nearest_scores, order, axis=1)
    return rows, distances
