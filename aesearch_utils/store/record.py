"""The durable record of a gallery: one SQLite file in WAL mode.

Every item is one row: its id, label (or NULL), image (raw uint8 bytes), its
unit vector before database-side augmentation (``base``, which later
additions need) and the vector that is searched. An addition or a deletion
is one transaction: committed whole or not at all. ``synchronous=FULL``
makes a committed transaction survive a killed process and a power cut: when
:meth:`GalleryRecord.add` returns, the items are on disk.

SQLite, not our own file format: it has done crash-safe transactions for
twenty years, needs no server, and reads 60,000 rows in a fraction of a
second when a gallery reopens.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aesearch_utils.errors import CorruptDataError, InvalidInputError

NO_LABEL = -1
"""The label of an unlabelled item in arrays (NULL in the database)."""

MAX_ID = 2**63 - 1
"""The largest id SQLite's INTEGER holds."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label INTEGER,
    image BLOB NOT NULL,
    base BLOB NOT NULL,
    vector BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Items:
    """Rows of the record as arrays (row ``i`` of each is one item)."""

    ids: np.ndarray
    labels: np.ndarray
    """int64, :data:`NO_LABEL` where an item has none."""
    base: np.ndarray
    vectors: np.ndarray


class GalleryRecord:
    """A gallery's items in SQLite; safe to share between threads (one writer at a time)."""

    def __init__(self, path: str | Path, dim: int, image_shape: Sequence[int]) -> None:
        self.path = Path(path)
        self.dim = dim
        self.image_shape = tuple(image_shape)
        try:
            self._connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise CorruptDataError(
                f"{self.path}: not a readable gallery record ({error})"
            ) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def check_integrity(self) -> None:
        """SQLite's ``quick_check`` of every page: a damaged file is an error, never served."""
        try:
            with self._lock:
                problems = [row[0] for row in self._connection.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as error:
            problems = [str(error)]
        if problems != ["ok"]:
            raise CorruptDataError(
                f"{self.path}: the gallery record is damaged ({'; '.join(problems[:3])}); "
                "restore it from a backup or build the gallery again"
            )

    def add(
        self,
        ids: np.ndarray,
        labels: np.ndarray,
        images: np.ndarray,
        base: np.ndarray,
        vectors: np.ndarray,
    ) -> None:
        """Insert the items in one transaction: all of them are recorded, or none."""
        rows = [
            (
                int(item),
                None if label == NO_LABEL else int(label),
                np.ascontiguousarray(image, dtype=np.uint8).tobytes(),
                np.ascontiguousarray(one_base, dtype=np.float32).tobytes(),
                np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
            )
            for item, label, image, one_base, vector in zip(
                ids, labels, images, base, vectors, strict=True
            )
        ]
        with self._lock, self._transaction():
            self._connection.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", rows)

    def replace_vectors(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Set the searched vectors of ``ids`` in one transaction (a rebuild of the re-ranking)."""
        rows = [
            (np.ascontiguousarray(vector, dtype=np.float32).tobytes(), int(item))
            for item, vector in zip(ids, vectors, strict=True)
        ]
        with self._lock, self._transaction():
            self._connection.executemany("UPDATE items SET vector = ? WHERE id = ?", rows)

    def delete(self, ids: Sequence[int]) -> None:
        """Remove the items in one transaction; an id that is not there is an error."""
        ids = [int(item) for item in ids]
        outside = [item for item in ids if not 0 <= item <= MAX_ID]
        if outside:
            raise InvalidInputError(f"no gallery item with id {outside[:10]}: nothing deleted")
        with self._lock, self._transaction():
            marks = ",".join("?" * len(ids))
            found = {
                row[0]
                for row in self._connection.execute(
                    f"SELECT id FROM items WHERE id IN ({marks})", ids
                )
            }
            missing = sorted(set(ids) - found)
            if missing:
                raise InvalidInputError(f"no gallery item with id {missing[:10]}: nothing deleted")
            self._connection.execute(f"DELETE FROM items WHERE id IN ({marks})", ids)

    def next_id(self) -> int:
        """The first id never used: a deleted item's id is not given out again."""
        with self._lock:
            row = self._connection.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'items'"
            ).fetchone()
        return 0 if row is None else row[0] + 1

    def count(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def image(self, item: int) -> np.ndarray | None:
        """The item's image, ``image_shape`` uint8; ``None`` when there is no such item."""
        if not 0 <= int(item) <= MAX_ID:
            return None
        with self._lock:
            row = self._connection.execute(
                "SELECT image FROM items WHERE id = ?", (int(item),)
            ).fetchone()
        if row is None:
            return None
        return np.frombuffer(row[0], dtype=np.uint8).reshape(self.image_shape)

    def read_all(self, first_id: int = 0) -> Items:
        """Every item from id ``first_id`` on, by id."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, label, base, vector FROM items WHERE id >= ? ORDER BY id",
                (int(first_id),),
            ).fetchall()
        ids, labels = _ids_and_labels(rows)
        try:
            base = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32)
            vectors = np.frombuffer(b"".join(row[3] for row in rows), dtype=np.float32)
            shape = (len(rows), self.dim)
            return Items(ids, labels, base.reshape(shape).copy(), vectors.reshape(shape).copy())
        except ValueError as error:
            raise CorruptDataError(f"{self.path}: vectors of the wrong size ({error})") from None

    def read_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Every item's id and label (:data:`NO_LABEL` for none), by id; no vectors read."""
        with self._lock:
            rows = self._connection.execute("SELECT id, label FROM items ORDER BY id").fetchall()
        return _ids_and_labels(rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except sqlite3.IntegrityError as error:
            self._connection.execute("ROLLBACK")
            raise InvalidInputError(f"an id is already in the gallery ({error})") from None
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")


def _ids_and_labels(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    labels = np.fromiter(
        (NO_LABEL if row[1] is None else row[1] for row in rows), dtype=np.int64, count=len(rows)
    )
    return ids, labels
