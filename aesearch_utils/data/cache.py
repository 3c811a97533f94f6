"""A disk cache of decoded datasets, so that only the first load pays for decoding.

Entries are uncompressed ``.npz`` files named by the dataset and a fingerprint
of the source files (path, size, modification time), so replacing a source
file invalidates its entry. Writes are atomic; an unreadable entry is ignored
and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import AesearchError
from aesearch_utils.io import write_atomically

CACHE_FORMAT_VERSION = 1


def fingerprint(source_files: Iterable[Path], extra: str = "") -> str:
    """A short hash of the files' resolved paths, sizes and modification times."""
    digest = hashlib.sha256(f"v{CACHE_FORMAT_VERSION}:{extra}".encode())
    for path in sorted(Path(file).resolve() for file in source_files):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def cache_path(cache_dir: Path, name: str, key: str) -> Path:
    return cache_dir / f"{name}-{key}.npz"


def read_cached(path: Path) -> Dataset | None:
    """The dataset stored at ``path``, or ``None`` when it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            return Dataset(
                name=meta["name"],
                x_train=stored["x_train"],
                y_train=stored["y_train"],
                x_test=stored["x_test"],
                y_test=stored["y_test"],
                class_names=tuple(meta["class_names"]),
                source=f"cache {path} of {meta['source']}",
            )
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, AesearchError):
        return None


def write_cached(path: Path, dataset: Dataset) -> None:
    """Store ``dataset`` at ``path`` atomically (labelled datasets only)."""
    meta = {"name": dataset.name, "class_names": dataset.class_names, "source": dataset.source}

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(
                handle,
                x_train=dataset.x_train,
                y_train=dataset.y_train,
                x_test=dataset.x_test,
                y_test=dataset.y_test,
                meta=np.array(json.dumps(meta)),
            )

    write_atomically(path, write)
