"""A gallery's saved indexes: what a reopen reads instead of building them from the record.

Filling FAISS from the record reads every row out of SQLite, and an HNSW
graph of a million items then takes minutes to build. A checkpoint is one
snapshot folder, ``index/`` in the gallery, written whole or not at all
(:func:`~aesearch_utils.io.write_folder_atomically`):

    meta.json                  the index kind and options, the gallery's id, the
                               vectors' dimension, and the record's high-water
                               marks: its next id and the next place in its
                               deletions log
    items.npy                  every item's id and label (2 rows), so a reopen
                               reads no label out of the record
    vectors.*.npy, base.*.npy  the arrays of each index's ``state()``

Each array is a file of its own, mapped into memory when read and handed to FAISS a chunk at a
time, where format 1's zip archive of them (``np.savez``) was copied out whole, then copied
whole again before FAISS read it. :func:`read_checkpoint` reads the metadata and the items at
once and an index only when :meth:`Checkpoint.index` asks for it: a gallery that only searches
never reads the vectors before augmentation at all.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils.errors import CorruptDataError
from aesearch_utils.io import POINTER_FILE, current_snapshot, write_folder_atomically
from aesearch_utils.search.vector_index import VectorIndex, restore_index

FOLDER = "index"
FORMAT = 2
FORMAT_1_FILE = "index.npz"
"""Where format 1 kept every array in one zip archive: deleted when a checkpoint is saved."""


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint: its metadata and items read, its indexes read on demand."""

    folder: Path
    meta: dict[str, Any]
    ids: np.ndarray
    labels: np.ndarray

    def index(self, part: str, **options: Any) -> VectorIndex:
        """The saved index of ``part`` (``options``: settings not saved with it)."""
        prefix = f"{part}."
        state = {
            file.name.removeprefix(prefix).removesuffix(".npy"): np.load(
                file, mmap_mode="r", allow_pickle=False
            )
            for file in self.folder.glob(f"{prefix}*.npy")
        }
        meta = self.meta
        return restore_index(
            meta["kind"], state, meta["dim"], "cosine", **meta["options"] | options
        )


def save_checkpoint(
    gallery: Path,
    meta: dict[str, Any],
    ids: np.ndarray,
    labels: np.ndarray,
    indexes: dict[str, VectorIndex],
) -> None:
    """Write ``gallery``'s checkpoint: ``meta`` (with the format), the items, each index."""

    def write(folder: Path) -> None:
        (folder / "meta.json").write_text(json.dumps(meta | {"format": FORMAT}), encoding="utf-8")
        np.save(folder / "items.npy", np.stack([ids, labels]).astype(np.int64))
        for part, index in indexes.items():
            for name, array in index.state().items():
                np.save(folder / f"{part}.{name}.npy", array, allow_pickle=False)

    write_folder_atomically(gallery / FOLDER, write)
    (gallery / FORMAT_1_FILE).unlink(missing_ok=True)


def read_checkpoint(gallery: Path) -> Checkpoint | None:
    """``gallery``'s checkpoint, or ``None`` when it has none or one of another format; a
    damaged one raises :class:`CorruptDataError`."""
    if not (gallery / FOLDER / POINTER_FILE).is_file():
        return None
    folder = current_snapshot(gallery / FOLDER)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            return None
        items = np.load(folder / "items.npy", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CorruptDataError(f"{folder}: {type(error).__name__}: {error}") from None
    if items.ndim != 2 or len(items) != 2 or items.dtype != np.int64:
        raise CorruptDataError(f"{folder / 'items.npy'} is not two rows of int64")
    return Checkpoint(folder, meta, items[0], items[1])


def remove_checkpoint(gallery: Path) -> None:
    """Forget the checkpoint: its pointer goes first, so a crash midway leaves none."""
    (gallery / FOLDER / POINTER_FILE).unlink(missing_ok=True)
    shutil.rmtree(gallery / FOLDER, ignore_errors=True)
