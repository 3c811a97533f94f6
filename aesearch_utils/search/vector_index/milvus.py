"""A vector index in Milvus: a standalone server, a cluster, or Milvus Lite (a local file).

``pymilvus.MilvusClient(uri)`` reaches all three with the same calls: a
local file (``galleries/vectors.db``) is Milvus Lite, embedded in this
process; ``http://host:19530`` a standalone server; a cluster's address a
distributed deployment. One collection of ``(id, vector)`` per index, searched
by inner product of unit vectors (cosine), with the index type a setting:

``FLAT``
    exact: the same top 10 as the embedded ``exact`` index;
``HNSW``
    Milvus's graph index (``M`` 32, ``efConstruction`` 80; a search's ``ef``
    is its breadth);
``IVF_FLAT``
    inverted lists over k-means cells (``nlist`` 1024; a search's ``nprobe``
    is its breadth).

A collection may also keep scalar fields beside each vector (``fields``: a
label, an image as text), so that it holds a whole record, not only what is
searched (:mod:`aesearch_utils.store.milvus_record`).

Every call has a bounded time and a refusal is a
:class:`~aesearch_utils.errors.BackendUnavailableError` (the service answers
503). Milvus Lite serialises its searches itself, so the client is used by
one thread at a time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from aesearch_utils.errors import (
    BackendUnavailableError,
    CorruptDataError,
    DataNotFoundError,
    InvalidInputError,
    UnknownNameError,
)
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.vector_index.base import check_entries, check_metric

INDEX_TYPES: dict[str, dict[str, Any]] = {
    "FLAT": {"build": {}, "breadth": None, "default_breadth": None},
    "HNSW": {"build": {"M": 32, "efConstruction": 80}, "breadth": "ef", "default_breadth": 256},
    "IVF_FLAT": {"build": {"nlist": 1024}, "breadth": "nprobe", "default_breadth": 32},
}
"""Each Milvus index type's build parameters and the search parameter that sets its breadth."""

CONNECT_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 1.5
"""Whether the server answers (``/api/health``): a server that does not is down (503). A server
that is killed refuses connections at once; the bounds are for one that hangs."""
READ_TIMEOUT_S = 10.0
"""A search of up to ``MAX_BATCH // 100`` queries, a lookup or a count."""
WRITE_TIMEOUT_S = 30.0
"""An insert of up to ``MAX_BATCH`` rows, a deletion, a collection made or dropped."""
MAX_K = 16_384
"""The most results one Milvus search returns (its ``topk`` limit)."""
MAX_TEXT = 65_535
"""The longest text field Milvus keeps (its VARCHAR limit)."""
FIELD_TYPES = ("int64", "text")
"""What a scalar field beside the vectors may hold (``fields``)."""


class MilvusIndex:
    """A Milvus collection of ``(id, vector)`` searched by cosine similarity.

    Args:
        uri: what ``MilvusClient`` connects to (a local ``.db`` file is Milvus Lite).
        collection: the collection's name; created when missing.
        dim: the vectors' size.
        metric: ``cosine`` (the only one the gallery needs).
        index_type: ``FLAT``, ``HNSW`` or ``IVF_FLAT`` (see the module), for a collection
            this creates; :attr:`held_index_type` is what an existing one has.
        token: for a server that wants one (``user:password`` or an API key).
        fields: scalar fields kept beside each vector, by name: ``int64`` or ``text`` (at most
            :data:`MAX_TEXT` characters), for a collection this creates; :meth:`add` takes
            their values and :meth:`values_of` reads them back.
        shared: other processes change the collection too: every read is "Strong" (below).
        create: make the collection when the server has none of that name (``False``: that
            is an error, for a collection that others made and may have dropped).

    **Reads see every acknowledged write.** A server's default consistency (bounded staleness,
    5 s) let a search right after an addition miss it, or return an id just deleted, whose label
    lookup then failed. "Strong" fixes both but makes every read wait for the server's next time
    tick (about 200 ms measured; a search with query expansion reads three times). So reads are
    "Session" (they see this client's insertions, waiting only after one) except in two cases
    Session does not cover, read "Strong" once: a client that just connected knows no write made
    before it (a reopened gallery's Session count missed two acknowledged deletions), and
    Milvus 2.3 returns no timestamp for a deletion. A ``shared`` collection, which other
    processes change, is read "Strong" every time: a session knows only its own client's writes.
    Milvus Lite is consistent by itself (one process) and has no "Strong" (it logs that the call
    is not implemented).
    """

    kind: ClassVar[str] = "milvus"
    saves_structure: ClassVar[bool] = False
    MAX_BATCH = 2000
    """Rows per insert or search call: Milvus Lite 3 builds queries x rows x dims arrays."""

    def __init__(
        self,
        uri: str,
        collection: str,
        dim: int,
        metric: str = "cosine",
        index_type: str = "FLAT",
        token: str = "",
        fields: Mapping[str, str] | None = None,
        shared: bool = False,
        create: bool = True,
    ) -> None:
        from pymilvus import DataType, MilvusClient, MilvusException

        check_metric(metric, ("cosine",), self.kind)
        if index_type not in INDEX_TYPES:
            raise UnknownNameError("Milvus index type", index_type, tuple(INDEX_TYPES))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", collection):
            raise InvalidInputError(
                f"a Milvus collection name is letters, digits and _, got {collection!r}"
            )
        fields = dict(fields or {})
        for name, field_type in fields.items():
            if field_type not in FIELD_TYPES:
                raise UnknownNameError("Milvus field type", field_type, FIELD_TYPES)
            if name in ("id", "vector") or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise InvalidInputError(f"a Milvus field name is a-z, 0-9 and _, got {name!r}")
        self.fields = fields
        self.dim = int(dim)
        self.metric = metric
        self.index_type = index_type
        self.uri = uri
        self.collection = collection
        self._lock = threading.Lock()
        self._server = is_server(uri)
        self._shared = shared and self._server
        self._strong_read_due = self._server
        try:
            credentials = {"token": token} if token else {}
            self._client = MilvusClient(uri, timeout=CONNECT_TIMEOUT_S, **credentials)
        except MilvusException as error:
            raise self._unavailable("a connection", error) from None
        if not self._call(self._client.has_collection, CHECK_TIMEOUT_S):
            if not create:
                self._client.close()
                raise DataNotFoundError(
                    f"the Milvus server at {uri} has no collection {collection!r}: it was "
                    "deleted, or this URI reaches another server than the one it was made on"
                )
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            for name, field_type in fields.items():
                if field_type == "int64":
                    schema.add_field(name, DataType.INT64)
                else:
                    schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT)
            index = self._client.prepare_index_params()
            index.add_index(
                field_name="vector", index_type=index_type, metric_type="IP",
                params=INDEX_TYPES[index_type]["build"],
            )  # fmt: skip
            self._call(self._client.create_collection, schema=schema, index_params=index)
        described = self._call(self._client.describe_index, CHECK_TIMEOUT_S, index_name="vector")
        self.held_index_type: str = described.get("index_type", "")
        """The collection's index type: another than ``index_type`` when it was made so."""

    @property
    def exact(self) -> bool:
        return self.held_index_type == "FLAT"

    def _unavailable(self, what: str, error: Exception) -> BackendUnavailableError:
        details = getattr(error, "details", None)  # a gRPC error's one line
        reason = getattr(error, "message", "") or (details() if callable(details) else str(error))
        return BackendUnavailableError(
            f"the Milvus server at {self.uri} did not answer {what} ({reason}): it is down or "
            "still starting; retry once it is back"
        )

    def _call(self, method, timeout: float = WRITE_TIMEOUT_S, **arguments):
        """``method(collection, ...)`` within a bounded time. Every input is the view's own
        (ids, vectors of ``dim``), so a refusal is the server's state, not the caller's input:
        it raises :class:`BackendUnavailableError` (the service answers 503)."""
        import grpc
        from pymilvus import MilvusException

        with self._lock:
            try:  # Milvus Lite runs in this process, unbounded: its 1M-row search takes ~1 s
                return method(
                    self.collection, timeout=timeout if self._server else None, **arguments
                )
            except (MilvusException, grpc.RpcError) as error:  # a deadline is a bare RpcError
                raise self._unavailable(method.__name__, error) from None

    def _read(self, method, fresh: bool = True, **arguments):
        """A read at the consistency the class explains (``fresh=False``: one whose answer may
        miss other processes' latest writes, :meth:`search_with_vectors`)."""
        level = "Strong" if self._strong_read_due or (self._shared and fresh) else "Session"
        result = self._call(method, READ_TIMEOUT_S, consistency_level=level, **arguments)
        self._strong_read_due = False
        return result

    def add(self, ids: np.ndarray, vectors: np.ndarray, **values: Sequence[Any]) -> None:
        """Store ``vectors`` under ``ids``, with each field's ``values`` (one per id) where the
        collection keeps fields."""
        ids, vectors = check_entries(ids, vectors, self.dim)
        if values.keys() != self.fields.keys() or any(len(v) != len(ids) for v in values.values()):
            raise InvalidInputError(
                f"{len(ids)} vectors need {len(ids)} values of each field "
                f"({', '.join(self.fields) or 'none'}), got {sorted(values)}"
            )
        vectors = unit_vectors(vectors)
        for start in range(0, len(ids), self.MAX_BATCH):
            stop = min(start + self.MAX_BATCH, len(ids))
            rows = [
                {"id": int(item), "vector": vector.tolist()}
                | {name: _scalar(column[row]) for name, column in values.items()}
                for row, item, vector in zip(
                    range(start, stop), ids[start:stop], vectors[start:stop], strict=True
                )
            ]
            self._call(self._client.insert, data=rows)

    def remove(self, ids: np.ndarray) -> None:
        self._call(self._client.delete, ids=[int(item) for item in ids])
        self._strong_read_due = self._server

    def check_reachable(self) -> None:
        """Raise :class:`BackendUnavailableError` unless the collection can be searched: the
        server answers, and has it loaded (a restarted server answers "collection not loaded"
        until it has loaded it again by itself: about 28 s in a trial with its default settings)."""
        from pymilvus.client.types import LoadState

        state = self._call(self._client.get_load_state, CHECK_TIMEOUT_S)["state"]
        if state != LoadState.Loaded:
            raise self._unavailable("with the collection loaded", RuntimeError(state.name))

    def search(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        ids, distances, _ = self._searched(queries, k, breadth)
        return ids, distances

    def search_values(
        self, queries: np.ndarray, k: int, field: str, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
        """:meth:`search` with each found item's value of ``field``, in one read."""
        if field not in self.fields:
            raise UnknownNameError("field", field, tuple(self.fields))
        return self._searched(queries, k, breadth, field)

    def search_with_vectors(
        self, queries: np.ndarray, k: int, breadth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One read; of a ``shared`` collection, one that does not wait for other processes'
        latest writes: the neighbours that expand a query or augment a new item may be a time
        tick old, while what a search returns never is."""
        ids, distances, found = self._searched(queries, k, breadth, "vector", fresh=False)
        vectors = np.zeros((*ids.shape, self.dim), dtype=np.float32)
        for row, values in enumerate(found):
            if values:
                vectors[row, : len(values)] = values
        return ids, distances, vectors

    def _searched(
        self,
        queries: np.ndarray,
        k: int,
        breadth: int | None,
        field: str | None = None,
        fresh: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
        """Ids, distances and (``field``) each found item's value of it, row by row."""
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        similarities = np.full((len(queries), k), -np.inf, dtype=np.float32)
        values: list[list[Any]] = []
        parameters: dict[str, Any] = {"metric_type": "IP"}
        held = INDEX_TYPES.get(self.held_index_type, INDEX_TYPES["FLAT"])
        if held["breadth"]:
            breadth = breadth if breadth is not None else held["default_breadth"]
            parameters["params"] = {held["breadth"]: max(int(breadth), k)}
        queries = unit_vectors(np.asarray(queries, dtype=np.float32))
        step = max(1, self.MAX_BATCH // 100)
        for start in range(0, len(queries), step):
            block = queries[start : start + step]
            found = self._read(
                self._client.search, fresh, data=block.tolist(), limit=k,
                search_params=parameters, output_fields=[field] if field else [],
            )  # fmt: skip
            for row, hits in enumerate(found, start):
                ids[row, : len(hits)] = [hit["id"] for hit in hits]
                similarities[row, : len(hits)] = [hit["distance"] for hit in hits]
                values.append([hit["entity"][field] for hit in hits] if field else [])
        return ids, (1.0 - similarities).astype(np.float32), values

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        flat = [int(item) for item in np.asarray(ids).ravel()]
        rows = self._read(self._client.get, ids=sorted(set(flat)), output_fields=["vector"])
        by_id = {row["id"]: row["vector"] for row in rows}
        missing = sorted(set(flat) - by_id.keys())
        if missing:
            raise CorruptDataError(
                f"Milvus collection {self.collection!r} lacks the ids {missing[:10]} it was given:"
                " reopen the gallery, which refills it from its record"
            )
        return np.asarray([by_id[item] for item in flat], dtype=np.float32).reshape(
            *np.shape(ids), self.dim
        )

    def values_of(self, ids: Sequence[int], field: str) -> dict[int, Any]:
        """The value of ``field`` for each of ``ids`` that the collection holds, by id."""
        if field not in self.fields:
            raise UnknownNameError("field", field, tuple(self.fields))
        if not len(ids):
            return {}
        rows = self._read(
            self._client.get, ids=sorted({int(item) for item in ids}), output_fields=[field]
        )
        return {row["id"]: row[field] for row in rows}

    def ids(self) -> np.ndarray:
        import grpc
        from pymilvus import MilvusException

        pages = self._read(
            self._client.query_iterator, batch_size=self.MAX_BATCH * 8, output_fields=["id"]
        )
        held: list[int] = []
        with self._lock:
            try:
                while page := pages.next():
                    held.extend(row["id"] for row in page)
            except (MilvusException, grpc.RpcError) as error:
                raise self._unavailable("a query of the ids", error) from None
            finally:
                pages.close()
        return np.asarray(held, dtype=np.int64)

    def count(self) -> int:
        result = self._read(self._client.query, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def options(self) -> dict[str, Any]:
        return {"index_type": self.index_type}

    def state(self) -> dict[str, np.ndarray]:
        return {}  # the server keeps it

    def nbytes(self) -> int:
        return 0  # held by the server

    def drop(self) -> None:
        """Remove the collection (the gallery's record keeps everything to refill it)."""
        self._call(self._client.drop_collection)

    def close(self) -> None:
        with self._lock:
            self._client.close()


def is_server(uri: str) -> bool:
    """Whether ``uri`` is a Milvus server or cluster; a local ``.db`` file is Milvus Lite, in
    this process (what pymilvus itself goes by)."""
    return not uri.endswith(".db")


def _scalar(value: Any) -> Any:
    """A field's value as Milvus's client takes it (a NumPy integer is not JSON)."""
    return value.item() if isinstance(value, np.generic) else value
