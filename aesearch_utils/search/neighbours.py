"""Exact nearest-neighbour search over an array of vectors, and the checks every search makes.

:func:`nearest_neighbours` is the exact index
(:class:`~aesearch_utils.search.vector_index.FlatIndex`, FAISS's brute force)
over a fixed array, with row numbers as ids: FAISS compares blocks of queries
with the gallery and keeps the ``k`` best per query in a heap, several times
faster than selecting them with NumPy (``argpartition`` took 3.5 of 4.8 s for
10,000 x 60,000 here). A search of many queries is kept in the
:mod:`~aesearch_utils.search.array_cache`. Memory never holds the whole
``queries x gallery`` matrix; code that scores blocks itself keeps each
within :data:`MAX_BLOCK_VALUES`.

The argument checks live here too (:func:`check_vectors`, :func:`check_k`):
a NaN that reached FAISS would come back as row ``-1``, which NumPy reads as
the *last* gallery item, a wrong answer with no error.
"""

from __future__ import annotations

import numbers

import numpy as np

from aesearch_utils.errors import InvalidInputError, UnknownNameError

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


def nearest_neighbours(
    queries: np.ndarray, gallery: np.ndarray, k: int, metric: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` gallery vectors nearest to each query: ``(rows, distances)``, nearest first.

    ``rows`` are row numbers of ``gallery``; both results have shape
    ``(len(queries), k)``. Euclidean distances are true (not squared)
    distances; cosine distance is ``1 - cosine similarity``; manhattan is the
    sum of absolute differences.
    """
    from aesearch_utils.search.vector_index import FlatIndex  # which imports this module

    if metric not in METRICS:
        raise UnknownNameError("metric", metric, METRICS)
    gallery = check_vectors(gallery, "gallery vectors")
    queries = check_vectors(queries, "query vectors", gallery.shape[1])
    k = check_k(k, len(gallery))
    index = FlatIndex(gallery.shape[1], metric)
    index.add(np.arange(len(gallery)), gallery)
    return index.search(queries, k)
