"""The embedded indexes: FAISS in this process's memory, keyed by id.

``exact`` (:class:`FlatIndex`)
    Brute force over every vector (``IndexFlat``): blocks of queries against
    the whole index by matrix products, the ``k`` best kept in a heap. One
    query reads every stored vector, so its time grows with the index
    (results/store_scale.json, results/gallery_scale.json).
``hnsw`` (:class:`HNSWIndex`)
    FAISS's HNSW graph (Malkov and Yashunin, 2016): a query walks a graph of
    near neighbours from a coarse layer to the fine one and examines
    ``efSearch`` candidates, not the whole index; approximate.

Both wrap the index in ``IndexIDMap2``, which maps the caller's ids to FAISS's
rows and reconstructs stored vectors by id. FAISS's HNSW cannot delete a
node (its graph links would dangle), so a removed id stays in the graph as a
waypoint and every search skips it (an ``IDSelector``); :meth:`HNSWIndex.state`
keeps the removed ids with the graph, and ``Gallery.rebuild`` makes a new graph without them.

An exact search of many queries is kept in the array cache, keyed by the
index's history of changes (what was added and removed, in order), so a
rerun of a notebook reads it back and a change is never answered from it.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import xxhash

from aesearch_utils.errors import CorruptDataError
from aesearch_utils.search.array_cache import cached_neighbours
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.vector_index.base import (
    check_entries,
    check_metric,
    found_vectors,
    missing_ids_error,
)


def search_on_one_core() -> None:
    """Make FAISS searches from the calling thread use one OpenMP thread (the setting is the
    thread's own): for a server whose other core answers HTTP, not for batch jobs."""
    import faiss

    faiss.omp_set_num_threads(1)


class _FaissIndex:
    """What both FAISS indexes share: ids, distances, reading vectors back, saving."""

    kind: ClassVar[str]
    exact: ClassVar[bool]
    saves_structure: ClassVar[bool]
    METRICS: ClassVar[tuple[str, ...]]

    def __init__(self, dim: int, metric: str) -> None:
        import faiss

        check_metric(metric, self.METRICS, self.kind)
        self.dim = int(dim)
        self.metric = metric
        self._index = faiss.IndexIDMap2(self._make())

    def _make(self) -> Any:
        raise NotImplementedError

    def _faiss_metric(self) -> int:
        import faiss

        return {
            "cosine": faiss.METRIC_INNER_PRODUCT,
            "euclidean": faiss.METRIC_L2,
            "manhattan": faiss.METRIC_L1,
        }[self.metric]

    def _stored(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return unit_vectors(vectors) if self.metric == "cosine" else vectors

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = check_entries(ids, vectors, self.dim)
        self._index.add_with_ids(self._stored(vectors), ids)

    def _search(
        self, queries: np.ndarray, k: int, parameters: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        raw, ids = self._index.search(self._stored(queries), k, params=parameters)
        if self.metric == "cosine":
            distances = 1.0 - raw
        elif self.metric == "euclidean":
            distances = np.sqrt(np.maximum(raw, 0))
        else:
            distances = raw
        return ids.astype(np.int64), distances.astype(np.float32)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        flat = np.asarray(ids, dtype=np.int64).ravel()
        try:
            vectors = self._index.reconstruct_batch(flat)
        except RuntimeError:  # FAISS: "key not found"
            raise missing_ids_error(sorted(set(flat.tolist()) - set(self.ids().tolist()))) from None
        return vectors.reshape(*np.shape(ids), self.dim)

    def search_with_vectors(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids, distances = self.search(queries, k, breadth)
        return ids, distances, found_vectors(self, ids)

    def _all_ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def ids(self) -> np.ndarray:
        return self._all_ids()

    def count(self) -> int:
        return int(self._index.ntotal)

    def options(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, np.ndarray]:
        import faiss

        return {"faiss": faiss.serialize_index(self._index)}

    @classmethod
    def restore(cls, state: dict[str, np.ndarray], dim: int, metric: str, **options: Any):
        """The index saved as :meth:`state`, checked against the expected ``dim`` and metric."""
        import faiss

        index = cls(dim, metric, **options)
        try:
            stored = _deserialized(state["faiss"])
        except (RuntimeError, KeyError) as error:  # FAISS reports a short read as RuntimeError
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise CorruptDataError(
                f"the saved {cls.kind} index is truncated or damaged ({first_line}): build it again"
            ) from None
        if not isinstance(stored, faiss.IndexIDMap2) or (stored.d, stored.metric_type) != (
            index.dim,
            index._faiss_metric(),
        ):
            raise CorruptDataError(
                f"the saved {cls.kind} index is not a {index.dim}-D {metric} index: build it again"
            )
        index._index = stored
        return index

    def nbytes(self) -> int:
        return self.count() * (self.dim * 4 + 8)  # the vectors and the ids (not FAISS's hash map)

    def check_reachable(self) -> None:
        """In this process's memory: always."""

    def close(self) -> None:
        self._index.reset()


def _deserialized(data: np.ndarray) -> Any:
    """The FAISS index serialised as ``data``, read from it in place, a chunk at a time:
    ``faiss.deserialize_index`` first copies it whole into a new, zero-filled buffer, which
    took longer than reading the index itself (a memory-mapped file stays one here)."""
    import faiss

    view = memoryview(np.ascontiguousarray(data, dtype=np.uint8)).cast("B")
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        chunk = view[position : position + size].tobytes()
        position += len(chunk)
        return chunk

    return faiss.read_index(faiss.PyCallbackIOReader(read))


class FlatIndex(_FaissIndex):
    """Exact: compares each query with every stored vector."""

    kind: ClassVar[str] = "exact"
    exact: ClassVar[bool] = True
    saves_structure: ClassVar[bool] = False
    METRICS: ClassVar[tuple[str, ...]] = ("euclidean", "cosine", "manhattan")

    def __init__(self, dim: int, metric: str) -> None:
        super().__init__(dim, metric)
        self._history = xxhash.xxh3_128(f"{self.dim}|{metric}".encode())

    def _make(self) -> Any:
        import faiss

        return faiss.IndexFlat(self.dim, self._faiss_metric())

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = check_entries(ids, vectors, self.dim)
        super().add(ids, vectors)
        self._record("add", ids, vectors)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        self._index.remove_ids(ids)
        self._record("remove", ids)

    def _record(self, change: str, *arrays: np.ndarray) -> None:
        history = self._history.copy()  # searches read the digest while this runs
        history.update(change.encode())
        for array in arrays:
            history.update(np.ascontiguousarray(array))
        self._history = history

    def search(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        history = self._history
        return cached_neighbours(
            history.hexdigest, queries, k, self.metric, lambda: self._search(queries, k, None)
        )

    @classmethod
    def restore(cls, state: dict[str, np.ndarray], dim: int, metric: str, **options: Any):
        index = super().restore(state, dim, metric, **options)
        index._record("restore", index._all_ids())
        return index


class HNSWIndex(_FaissIndex):
    """Approximate: FAISS's HNSW graph.

    Args:
        neighbours: links per node (``M``); more is more accurate and larger.
        ef_construction: candidates examined while inserting.
        ef_search: candidates examined per query by default (at least ``k``);
            a query may ask for another ``breadth``.
    """

    kind: ClassVar[str] = "hnsw"
    exact: ClassVar[bool] = False
    saves_structure: ClassVar[bool] = True
    METRICS: ClassVar[tuple[str, ...]] = ("euclidean", "cosine")

    def __init__(
        self,
        dim: int,
        metric: str,
        neighbours: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
    ) -> None:
        self.neighbours = int(neighbours)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        super().__init__(dim, metric)
        self._removed: set[int] = set()
        self._lock = threading.Lock()
        self._skip: Any = None
        """The selector that skips removed ids (``None``: nothing removed)."""

    def _make(self) -> Any:
        import faiss

        graph = faiss.IndexHNSWFlat(self.dim, self.neighbours, self._faiss_metric())
        graph.hnsw.efConstruction = self.ef_construction
        return graph

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        with self._lock:
            self._removed |= {
                item for item in np.asarray(ids).ravel().tolist() if self._holds(item)
            }
            if self._removed:
                removed = faiss.IDSelectorBatch(np.fromiter(self._removed, dtype=np.int64))
                skip = faiss.IDSelectorNot(removed)
                skip.referenced = removed  # the C++ selector points at it: keep it alive
                self._skip = skip

    def _holds(self, item: int) -> bool:
        """Whether the graph has a node of id ``item`` (removed or not): asked one id at a time,
        where a list of every id would cost a copy of a million of them per removal."""
        try:
            self._index.reconstruct(item)
        except RuntimeError:
            return False
        return True

    def search(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        ef = max(breadth if breadth is not None else self.ef_search, k)
        skip = self._skip
        parameters = (
            faiss.SearchParametersHNSW(efSearch=ef)
            if skip is None
            else faiss.SearchParametersHNSW(efSearch=ef, sel=skip)
        )
        return self._search(queries, k, parameters)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        removed = self._removed & set(np.asarray(ids).ravel().tolist())
        if removed:
            raise missing_ids_error(sorted(removed))
        return super().vectors_of(ids)

    def ids(self) -> np.ndarray:
        held = self._all_ids()
        return held[~np.isin(held, np.fromiter(self._removed, dtype=np.int64))]

    def count(self) -> int:
        return int(self._index.ntotal) - len(self._removed)

    def options(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
        }

    def state(self) -> dict[str, np.ndarray]:
        return super().state() | {"removed": np.fromiter(self._removed, dtype=np.int64)}

    @classmethod
    def restore(cls, state: dict[str, np.ndarray], dim: int, metric: str, **options: Any):
        import faiss

        index = super().restore(state, dim, metric, **options)
        graph = faiss.downcast_index(index._index.index)
        if not isinstance(graph, faiss.IndexHNSW) or graph.hnsw.nb_neighbors(0) != 2 * (
            index.neighbours
        ):
            raise CorruptDataError(
                f"the saved hnsw index is not an HNSW graph of {index.neighbours} links per node:"
                " build it again"
            )
        index.remove(np.asarray(state.get("removed", np.empty(0)), dtype=np.int64))
        return index

    def nbytes(self) -> int:
        return len(self.state()["faiss"])  # the vectors, the graph and the ids, as FAISS saves them
