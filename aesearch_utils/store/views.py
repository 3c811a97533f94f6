"""Where a gallery's vectors are searched, chosen by one setting: a URI.

``None`` (the default)
    :class:`FaissView`: an exact inner-product index in this process's memory,
    filled from the gallery's record when it opens. No server.
anything else
    :class:`MilvusView`: a collection in Milvus, reached through
    ``pymilvus.MilvusClient(uri)``: a local file (``galleries/vectors.db``:
    Milvus Lite, embedded), ``http://host:19530`` (a standalone server) or a
    cluster's address. The same code talks to all three; exact search (a
    ``FLAT`` index) gives the same top 10 as the embedded view.

Both search unit vectors by inner product (cosine similarity) and return the
items' ids. A view is read by many threads at once and changed by one
(the gallery holds the locks); Milvus Lite serialises its searches itself, so
its client is used by one thread at a time.
"""

from __future__ import annotations

import re
import threading
from typing import Protocol

import numpy as np

from aesearch_utils.errors import BackendUnavailableError, CorruptDataError, InvalidInputError


class VectorView(Protocol):
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, similarities)``, each ``(queries, k)``, most similar first."""
        ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray: ...

    def count(self) -> int: ...

    def check_reachable(self) -> None:
        """Raise :class:`~aesearch_utils.errors.BackendUnavailableError` if the vectors'
        server does not answer."""
        ...

    def close(self) -> None: ...


def search_on_one_core() -> None:
    """Make FAISS searches from the calling thread use one OpenMP thread (the setting is the
    thread's own): for a server whose other core answers HTTP, not for batch jobs."""
    import faiss

    faiss.omp_set_num_threads(1)


class FaissView:
    """The embedded view: FAISS's exact inner-product index, keyed by item id."""

    def __init__(self, dim: int) -> None:
        import faiss

        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> None:
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        similarities, ids = self._index.search(np.ascontiguousarray(queries, np.float32), k)
        return ids.astype(np.int64), similarities

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        flat = np.asarray(ids, dtype=np.int64).ravel()
        return self._index.reconstruct_batch(flat).reshape(*np.shape(ids), self.dim)

    def count(self) -> int:
        return int(self._index.ntotal)

    def check_reachable(self) -> None:
        """In this process's memory: always."""

    def close(self) -> None:
        self._index.reset()


CONNECT_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 1.5
"""Whether the server answers (``/api/health``): a server that does not is down (503). A server
that is killed refuses connections at once; the bounds are for one that hangs."""
READ_TIMEOUT_S = 10.0
"""A search of up to ``MAX_BATCH // 100`` queries, a lookup or a count."""
WRITE_TIMEOUT_S = 30.0
"""An insert of up to ``MAX_BATCH`` rows, a deletion, a collection made or dropped."""


class MilvusView:
    """A Milvus collection of ``(id, vector)`` with an exact (``FLAT``) inner-product index.

    Args:
        uri: what ``MilvusClient`` connects to (a local ``.db`` file is Milvus Lite).
        collection: the collection's name; created when missing.
        token: for a server that wants one (``user:password`` or an API key).

    **Reads see every acknowledged write.** A server's default consistency (bounded staleness,
    5 s) let a search right after an addition miss it, or return an id just deleted, whose label
    lookup then failed. "Strong" fixes both but makes every read wait for the server's next time
    tick (about 200 ms measured; a search with query expansion reads three times). So reads are
    "Session" (they see this client's insertions, waiting only after one) except in two cases
    Session does not cover, read "Strong" once: a client that just connected knows no write made
    before it (a reopened gallery's Session count missed two acknowledged deletions), and
    Milvus 2.3 returns no timestamp for a deletion. Milvus Lite is consistent by itself (one
    process) and has no "Strong" (it logs that the call is not implemented).
    """

    MAX_BATCH = 2000
    """Rows per insert or search call: Milvus Lite 3 builds queries x rows x dims arrays."""

    def __init__(self, uri: str, collection: str, dim: int, token: str = "") -> None:
        from pymilvus import DataType, MilvusClient, MilvusException

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", collection):
            raise InvalidInputError(
                f"a Milvus collection name is letters, digits and _, got {collection!r}"
            )
        self.dim = dim
        self.uri = uri
        self.collection = collection
        self._lock = threading.Lock()
        self._server = not uri.endswith(".db")  # what pymilvus itself takes for Milvus Lite
        self._strong_read_due = self._server
        try:
            credentials = {"token": token} if token else {}
            self._client = MilvusClient(uri, timeout=CONNECT_TIMEOUT_S, **credentials)
        except MilvusException as error:
            raise self._unavailable("a connection", error) from None
        if not self._call(self._client.has_collection, CHECK_TIMEOUT_S):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self._client.prepare_index_params()
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            self._call(self._client.create_collection, schema=schema, index_params=index)

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

    def _read(self, method, **arguments):
        """A read at the consistency the class explains."""
        level = "Strong" if self._strong_read_due else "Session"
        result = self._call(method, READ_TIMEOUT_S, consistency_level=level, **arguments)
        self._strong_read_due = False
        return result

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        for start in range(0, len(ids), self.MAX_BATCH):
            rows = [
                {"id": int(item), "vector": vector.tolist()}
                for item, vector in zip(
                    ids[start : start + self.MAX_BATCH],
                    np.asarray(vectors[start : start + self.MAX_BATCH], dtype=np.float32),
                    strict=True,
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

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty((len(queries), k), dtype=np.int64)
        similarities = np.empty((len(queries), k), dtype=np.float32)
        step = max(1, self.MAX_BATCH // 100)
        for start in range(0, len(queries), step):
            block = np.asarray(queries[start : start + step], dtype=np.float32)
            found = self._read(
                self._client.search, data=block.tolist(), limit=k,
                search_params={"metric_type": "IP"},
            )  # fmt: skip
            for row, hits in enumerate(found, start):
                ids[row] = [hit["id"] for hit in hits]
                similarities[row] = [hit["distance"] for hit in hits]
        return ids, similarities

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

    def count(self) -> int:
        result = self._read(self._client.query, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def drop(self) -> None:
        """Remove the collection (the gallery's record keeps everything to refill it)."""
        self._call(self._client.drop_collection)

    def close(self) -> None:
        with self._lock:
            self._client.close()
