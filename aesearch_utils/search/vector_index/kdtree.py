"""scikit-learn's KD-tree as a vector index: exact, and fast only for low-dimensional vectors.

The seed reports searched with it; notebook 9 keeps it to show why an exact
tree stops helping as the dimensions grow (it visits nearly every leaf at 32
dimensions). A KD-tree is built once over fixed points, so a change marks it
stale and the next search builds it again: fine for teaching, not for a
gallery that grows.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.vector_index.base import (
    check_entries,
    check_metric,
    found_vectors,
    missing_ids_error,
)


class KDTreeIndex:
    kind: ClassVar[str] = "kdtree"
    exact: ClassVar[bool] = True
    saves_structure: ClassVar[bool] = False

    def __init__(self, dim: int, metric: str) -> None:
        check_metric(metric, ("euclidean", "cosine", "manhattan"), self.kind)
        self.dim = int(dim)
        self.metric = metric
        self._ids = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, self.dim), dtype=np.float32)
        self._tree: Any = None
        self._lock = threading.Lock()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = check_entries(ids, vectors, self.dim)
        if self.metric == "cosine":
            vectors = unit_vectors(vectors)
        with self._lock:
            self._ids = np.concatenate([self._ids, ids])
            self._vectors = np.concatenate([self._vectors, vectors])
            self._tree = None

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            kept = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
            self._ids, self._vectors = self._ids[kept], self._vectors[kept]
            self._tree = None

    def _built(self) -> tuple[Any, np.ndarray]:
        from sklearn.neighbors import KDTree

        with self._lock:
            if self._tree is None:
                # cosine distance is a monotonic function of the euclidean distance between
                # unit vectors: 1 - cos = |a - b|^2 / 2
                metric = "manhattan" if self.metric == "manhattan" else "euclidean"
                self._tree = KDTree(self._vectors, metric=metric)
            return self._tree, self._ids

    def search(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        tree, ids = self._built()
        queries = np.asarray(queries, dtype=np.float32)
        distances, rows = tree.query(
            unit_vectors(queries) if self.metric == "cosine" else queries, k=k
        )
        if self.metric == "cosine":
            distances = distances**2 / 2
        return ids[rows], distances.astype(np.float32)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        flat = np.asarray(ids, dtype=np.int64).ravel()
        order = np.argsort(self._ids)
        places = np.searchsorted(self._ids, flat, sorter=order)
        places = order[np.minimum(places, len(order) - 1)] if len(order) else places
        found = len(order) > 0 and (self._ids[places] == flat).all()
        if not found:
            raise missing_ids_error(sorted(set(flat.tolist()) - set(self._ids.tolist())))
        return self._vectors[places].reshape(*np.shape(ids), self.dim)

    def search_with_vectors(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids, distances = self.search(queries, k, breadth)
        return ids, distances, found_vectors(self, ids)

    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def count(self) -> int:
        return len(self._ids)

    def options(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, np.ndarray]:
        return {"ids": self._ids, "vectors": self._vectors}

    @classmethod
    def restore(cls, state: dict[str, np.ndarray], dim: int, metric: str) -> KDTreeIndex:
        index = cls(dim, metric)
        index.add(state["ids"], state["vectors"])
        return index

    def nbytes(self) -> int:
        tree, _ = self._built()
        arrays = (self._ids, self._vectors, *tree.get_arrays())  # the tree keeps its own copy
        return sum(array.nbytes for array in arrays)

    def check_reachable(self) -> None:
        """In this process's memory: always."""

    def close(self) -> None:
        self.remove(self._ids)
