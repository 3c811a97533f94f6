"""Search backends: one class per way of finding the nearest gallery vectors.

Every backend answers ``search(queries, k, ef_search=None) -> (rows, distances)``
over the gallery it was built on, with the distances
:func:`~aesearch_utils.search.neighbours.nearest_neighbours` defines, and can be
saved (``options()`` and ``payload()``) and restored without rebuilding:

``exact``
    Brute force over every gallery vector (FAISS's flat index; SciPy for manhattan).
``kdtree``
    scikit-learn's KD-tree, the seed reports' approach; exact as well.
``hnsw``
    FAISS's HNSW graph: approximate, for large galleries (euclidean and cosine).

A backend is read-only once built, so several threads may search it at once:
HNSW's ``efSearch`` travels with each call (FAISS's ``SearchParametersHNSW``)
instead of being written into the shared graph.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Protocol

import numpy as np

from aesearch_utils.errors import CorruptDataError, InvalidInputError, UnknownNameError
from aesearch_utils.search.array_cache import array_digest, cached_neighbours
from aesearch_utils.search.neighbours import (
    METRICS,
    exact_index,
    nearest_neighbours,
    search_exact_index,
    unit_vectors,
)


class SearchBackend(Protocol):
    name: ClassVar[str]
    metric: str

    def search(
        self, queries: np.ndarray, k: int, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def options(self) -> dict[str, Any]:
        """The settings to rebuild it with (JSON-friendly)."""
        ...

    def payload(self) -> np.ndarray | None:
        """A serialised structure to restore instead of rebuilding, if building is costly."""
        ...

    def nbytes(self) -> int:
        """Memory held besides the gallery vectors."""
        ...


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise UnknownNameError("metric", metric, METRICS)


class ExactBackend:
    """Brute force: compares each query with every gallery vector."""

    name: ClassVar[str] = "exact"

    def __init__(self, vectors: np.ndarray, metric: str) -> None:
        _check_metric(metric)
        self.metric = metric
        self._vectors = vectors
        self._flat = None if metric == "manhattan" else exact_index(vectors, metric)

    def search(
        self, queries: np.ndarray, k: int, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._flat is None:
            return nearest_neighbours(queries, self._vectors, k, self.metric)
        flat = self._flat
        return cached_neighbours(
            lambda: self._gallery_digest,
            queries,
            k,
            self.metric,
            lambda: search_exact_index(flat, queries, k, self.metric),
        )

    @cached_property
    def _gallery_digest(self) -> str:
        return array_digest(self._vectors)

    def options(self) -> dict[str, Any]:
        return {}

    def payload(self) -> np.ndarray | None:
        return None

    def nbytes(self) -> int:
        return 0 if self._flat is None else self._vectors.nbytes  # FAISS keeps its own copy


class KDTreeBackend:
    """scikit-learn's KD-tree: exact, fast for low-dimensional vectors only."""

    name: ClassVar[str] = "kdtree"

    def __init__(self, vectors: np.ndarray, metric: str) -> None:
        from sklearn.neighbors import KDTree

        _check_metric(metric)
        self.metric = metric
        # cosine distance is a monotonic function of the euclidean distance
        # between unit vectors: 1 - cos = |a - b|^2 / 2
        self._tree = KDTree(
            unit_vectors(vectors) if metric == "cosine" else vectors,
            metric="manhattan" if metric == "manhattan" else "euclidean",
        )

    def search(
        self, queries: np.ndarray, k: int, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        distances, rows = self._tree.query(
            unit_vectors(queries) if self.metric == "cosine" else queries, k=k
        )
        if self.metric == "cosine":
            distances = distances**2 / 2
        return rows.astype(np.int64), distances.astype(np.float32)

    def options(self) -> dict[str, Any]:
        return {}

    def payload(self) -> np.ndarray | None:
        return None

    def nbytes(self) -> int:
        data, indices, nodes, bounds = self._tree.get_arrays()
        return sum(array.nbytes for array in (data, indices, nodes, bounds))


class HNSWBackend:
    """FAISS's HNSW graph: approximate, sub-linear search.

    Args:
        neighbours: links per node (``M``); more is more accurate and larger.
        ef_construction: candidates examined while inserting.
        ef_search: candidates examined per query by default (at least ``k``);
            a query may ask for another value.
    """

    name: ClassVar[str] = "hnsw"

    def __init__(
        self,
        vectors: np.ndarray,
        metric: str,
        neighbours: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
        graph: Any = None,
    ) -> None:
        import faiss

        _check_metric(metric)
        if metric == "manhattan":
            raise InvalidInputError(
                "the hnsw backend supports euclidean and cosine; use exact or kdtree for manhattan"
            )
        self.metric = metric
        self.neighbours = neighbours
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        if graph is None:
            faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
            graph = faiss.IndexHNSWFlat(vectors.shape[1], neighbours, faiss_metric)
            graph.hnsw.efConstruction = ef_construction
            graph.add(unit_vectors(vectors) if metric == "cosine" else vectors)
        self._graph = graph

    @classmethod
    def restore(
        cls, vectors: np.ndarray, metric: str, payload: np.ndarray, **options: Any
    ) -> HNSWBackend:
        """The backend saved as ``payload``, checked against the gallery ``vectors``."""
        import faiss

        try:
            graph = faiss.deserialize_index(np.asarray(payload, dtype=np.uint8))
        except RuntimeError as error:  # FAISS reports a short read as a RuntimeError
            first_line = str(error).strip().splitlines()[0]
            raise CorruptDataError(
                f"the saved HNSW graph is truncated or damaged ({first_line}): build the index "
                "again"
            ) from None
        if graph.ntotal != len(vectors) or graph.d != vectors.shape[1]:
            raise CorruptDataError(
                f"the saved HNSW graph holds {graph.ntotal} x {graph.d} vectors but the gallery "
                f"has {vectors.shape[0]} x {vectors.shape[1]}: build the index again"
            )
        return cls(vectors, metric, graph=graph, **options)

    def search(
        self, queries: np.ndarray, k: int, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        ef = max(ef_search if ef_search is not None else self.ef_search, k)
        if self.metric == "cosine":
            queries = unit_vectors(queries)
        distances, rows = self._graph.search(
            np.ascontiguousarray(queries, dtype=np.float32),
            k,
            params=faiss.SearchParametersHNSW(efSearch=ef),
        )
        distances = 1 - distances if self.metric == "cosine" else np.sqrt(distances)
        return rows.astype(np.int64), distances.astype(np.float32)

    def options(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
        }

    def payload(self) -> np.ndarray | None:
        import faiss

        return faiss.serialize_index(self._graph)

    def nbytes(self) -> int:
        return len(self.payload())


BACKENDS: dict[str, type[ExactBackend] | type[KDTreeBackend] | type[HNSWBackend]] = {
    backend.name: backend for backend in (ExactBackend, KDTreeBackend, HNSWBackend)
}


def make_backend(
    name: str,
    vectors: np.ndarray,
    metric: str,
    payload: np.ndarray | None = None,
    **options: Any,
) -> SearchBackend:
    """The backend ``name`` over ``vectors``: restored from ``payload`` when one was saved."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, tuple(BACKENDS))
    if payload is not None and name == HNSWBackend.name:
        return HNSWBackend.restore(vectors, metric, payload, **options)
    return BACKENDS[name](vectors, metric, **options)
