"""What every vector index answers, whichever engine finds the neighbours.

A vector index holds ``(id, vector)`` pairs and changes while it is searched:
``add`` and ``remove`` by id, ``search`` for the ``k`` nearest ids with their
distances, ``vectors_of`` to read stored vectors back (query expansion and
database-side augmentation average them). The ids are the caller's: an
``ImageIndex`` uses row numbers, a gallery its items' stable ids.

Distances are those :func:`~aesearch_utils.search.neighbours.nearest_neighbours`
defines, whatever the engine computes inside: true euclidean distances,
``1 - cosine similarity``, sums of absolute differences. A cosine index stores
unit vectors, so ``vectors_of`` gives those back.

Many threads may search an index at once while one changes it (its owner
holds the write lock); a per-call ``breadth`` (how much of an approximate
index a search examines) never writes into the shared structure.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.neighbours import METRICS


class VectorIndex(Protocol):
    kind: ClassVar[str]
    """The name a setting chooses it by (``exact``, ``kdtree``, ``hnsw``, ``milvus``)."""
    exact: ClassVar[bool]
    """Whether a search always finds the true nearest vectors."""
    saves_structure: ClassVar[bool]
    """Whether its :meth:`state` is worth saving beside the vectors (a graph that takes minutes
    to build) rather than rebuilding it from them."""
    metric: str
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors`` ``(n, dim)`` under ``ids`` (int64, new ones)."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Forget ``ids``; ids it does not hold are ignored."""
        ...

    def search(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, distances)``, each ``(queries, k)``, nearest first (id ``-1`` where fewer
        than ``k`` were found). ``breadth``: candidates an approximate search examines for
        these queries alone (HNSW's ``efSearch``); exact indexes ignore it."""
        ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (any shape), shaped ``(*ids.shape, dim)``."""
        ...

    def search_with_vectors(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`search` with the vectors found, ``(queries, k, dim)``, in one call (one read
        of a server): what re-ranking averages. A place without a neighbour (id ``-1``) holds
        a zero vector."""
        ...

    def ids(self) -> np.ndarray:
        """Every id held, in no particular order."""
        ...

    def count(self) -> int: ...

    def options(self) -> dict[str, Any]:
        """The settings to make it again with (JSON-friendly)."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that :meth:`restore` (a class method) makes the same index from."""
        ...

    def nbytes(self) -> int:
        """Memory held in this process (vectors included)."""
        ...

    def check_reachable(self) -> None:
        """Raise :class:`~aesearch_utils.errors.BackendUnavailableError` if the server holding
        the vectors does not answer (an index in this process's memory always answers)."""
        ...

    def close(self) -> None: ...


def check_metric(metric: str, supported: tuple[str, ...], kind: str) -> None:
    if metric not in METRICS:
        raise UnknownNameError("metric", metric, METRICS)
    if metric not in supported:
        raise InvalidInputError(
            f"the {kind} index supports {' and '.join(supported)}; use exact or kdtree for {metric}"
        )


def check_entries(ids: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` as int64 and ``vectors`` as contiguous float32, one row per id, ``dim`` wide."""
    ids = np.asarray(ids)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise InvalidInputError(f"ids must be a 1-D array of integers, got {ids.dtype} {ids.shape}")
    if vectors.shape != (len(ids), dim):
        raise InvalidInputError(
            f"{len(ids)} ids need vectors of shape ({len(ids)}, {dim}), got {vectors.shape}"
        )
    return ids.astype(np.int64), vectors


def found_vectors(index: VectorIndex, ids: np.ndarray) -> np.ndarray:
    """The vectors of ``ids`` found by a search, zeros where it found none (id ``-1``)."""
    vectors = np.zeros((*ids.shape, index.dim), dtype=np.float32)
    held = ids >= 0
    if held.any():
        vectors[held] = index.vectors_of(ids[held])
    return vectors


def missing_ids_error(missing: list[int]) -> InvalidInputError:
    return InvalidInputError(f"the index holds no vectors with the ids {missing[:10]}")
