"""One vector index interface, several engines: what the pipeline and the gallery search.

:class:`~aesearch_utils.search.vector_index.base.VectorIndex` is mutable and
keyed by id (see :mod:`~aesearch_utils.search.vector_index.base`). Its kinds:

``exact``
    FAISS's flat index, brute force (:mod:`.faiss_indexes`);
``hnsw``
    FAISS's HNSW graph, approximate (:mod:`.faiss_indexes`);
``kdtree``
    scikit-learn's KD-tree, exact, for notebook 9's lesson (:mod:`.kdtree`);
``milvus``
    a Milvus collection (``FLAT``, ``HNSW`` or ``IVF_FLAT``) on a server, a
    cluster or Milvus Lite (:mod:`.milvus`); made with its URI, not by
    :func:`make_index`.

Serving code depends on this package, never the reverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aesearch_utils.errors import UnknownNameError
from aesearch_utils.search.vector_index.base import VectorIndex
from aesearch_utils.search.vector_index.faiss_indexes import (
    FlatIndex,
    HNSWIndex,
    search_on_one_core,
)
from aesearch_utils.search.vector_index.kdtree import KDTreeIndex

INDEX_KINDS: dict[str, type[FlatIndex] | type[HNSWIndex] | type[KDTreeIndex]] = {
    kind.kind: kind for kind in (FlatIndex, HNSWIndex, KDTreeIndex)
}
"""The indexes held in this process's memory, by the name a setting gives."""


def _kind(name: str) -> type[FlatIndex] | type[HNSWIndex] | type[KDTreeIndex]:
    if name not in INDEX_KINDS:
        raise UnknownNameError("index", name, tuple(INDEX_KINDS))
    return INDEX_KINDS[name]


def make_index(kind: str, dim: int, metric: str, **options: Any) -> VectorIndex:
    """A new, empty index of ``kind`` (``exact``, ``hnsw`` or ``kdtree``)."""
    return _kind(kind)(dim, metric, **options)


def restore_index(
    kind: str, state: dict[str, np.ndarray], dim: int, metric: str, **options: Any
) -> VectorIndex:
    """The index of ``kind`` saved as ``state`` (its ``state()``)."""
    return _kind(kind).restore(state, dim, metric, **options)


__all__ = [
    "INDEX_KINDS",
    "FlatIndex",
    "HNSWIndex",
    "KDTreeIndex",
    "VectorIndex",
    "make_index",
    "restore_index",
    "search_on_one_core",
]
