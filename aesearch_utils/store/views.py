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

from aesearch_utils.errors import InvalidInputError


class VectorView(Protocol):
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, similarities)``, each ``(queries, k)``, most similar first."""
        ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray: ...

    def count(self) -> int: ...

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

    def close(self) -> None:
        self._index.reset()


class MilvusView:
    """A Milvus collection of ``(id, vector)`` with an exact (``FLAT``) inner-product index.

    Args:
        uri: what ``MilvusClient`` connects to (a local ``.db`` file is Milvus Lite).
        collection: the collection's name; created when missing.
        token: for a server that wants one (``user:password`` or an API key).
    """

    MAX_BATCH = 2000
    """Rows per insert or search call: Milvus Lite 3 builds queries x rows x dims arrays."""

    def __init__(self, uri: str, collection: str, dim: int, token: str = "") -> None:
        from pymilvus import DataType, MilvusClient

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", collection):
            raise InvalidInputError(
                f"a Milvus collection name is letters, digits and _, got {collection!r}"
            )
        self.dim = dim
        self.collection = collection
        self._client = MilvusClient(uri, token=token) if token else MilvusClient(uri)
        self._lock = threading.Lock()
        if not self._client.has_collection(collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self._client.prepare_index_params()
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            self._client.create_collection(collection, schema=schema, index_params=index)

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
            with self._lock:
                self._client.insert(self.collection, rows)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            self._client.delete(self.collection, ids=[int(item) for item in ids])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty((len(queries), k), dtype=np.int64)
        similarities = np.empty((len(queries), k), dtype=np.float32)
        step = max(1, self.MAX_BATCH // 100)
        for start in range(0, len(queries), step):
            block = np.asarray(queries[start : start + step], dtype=np.float32)
            with self._lock:
                found = self._client.search(
                    self.collection, data=block.tolist(), limit=k,
                    search_params={"metric_type": "IP"},
                )  # fmt: skip
            for row, hits in enumerate(found, start):
                ids[row] = [hit["id"] for hit in hits]
                similarities[row] = [hit["distance"] for hit in hits]
        return ids, similarities

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        flat = [int(item) for item in np.asarray(ids).ravel()]
        with self._lock:
            rows = self._client.get(
                self.collection, ids=sorted(set(flat)), output_fields=["vector"]
            )
        by_id = {row["id"]: row["vector"] for row in rows}
        return np.asarray([by_id[item] for item in flat], dtype=np.float32).reshape(
            *np.shape(ids), self.dim
        )

    def count(self) -> int:
        with self._lock:
            result = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def drop(self) -> None:
        """Remove the collection (the gallery's record keeps everything to refill it)."""
        with self._lock:
            self._client.drop_collection(self.collection)

    def close(self) -> None:
        with self._lock:
            self._client.close()
