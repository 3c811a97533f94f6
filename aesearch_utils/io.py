"""Atomic writing: a reader never sees a half-written file or folder.

A file is written beside its target and moved onto it (:func:`atomic_path`).
A folder of several files (a saved search pipeline) is written as a new
snapshot folder, then a small ``CURRENT`` file naming it is replaced
atomically (:func:`write_folder_atomically`): a crash at any moment leaves
``CURRENT`` naming a complete snapshot, the new one or the last good one.
Both are flushed to disk (``fsync``) before they become visible, so what was
saved survives a power cut, not only a killed process.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aesearch_utils.errors import CorruptDataError, DataNotFoundError


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same folder, so the final ``os.replace``
    is atomic on POSIX and Windows. On error the temporary file is removed and
    any earlier version of ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp" + target.suffix
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        yield temporary
        _fsync(temporary)
        # mkstemp creates files readable by their owner only; give the result the
        # permissions any other new file would get
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
        _fsync(target.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(temporary_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as temporary:
        write(temporary)
    return Path(path)


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted JSON (stable diffs), atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays reach us from metrics; JSON has no type for them
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


POINTER_FILE = "CURRENT"
SNAPSHOT_PREFIX = "snapshot-"


def write_folder_atomically(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(folder)`` on a new, empty folder and make it ``path``'s current snapshot.

    ``path`` becomes a folder holding ``CURRENT`` and the snapshot; earlier
    snapshots are removed once ``CURRENT`` names the new one. Returns ``path``.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder: choose another path")
    root.mkdir(parents=True, exist_ok=True)
    name = f"{SNAPSHOT_PREFIX}{uuid.uuid4().hex[:12]}"
    building = root / f".building-{name}"
    building.mkdir()
    try:
        write(building)
        for file in building.rglob("*"):
            if file.is_file():
                _fsync(file)
        building.rename(root / name)
        _fsync(root)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    write_atomically(root / POINTER_FILE, lambda temporary: temporary.write_text(name + "\n"))
    for stale in root.iterdir():
        if stale.name != name and stale.name.startswith((SNAPSHOT_PREFIX, ".building-")):
            shutil.rmtree(stale, ignore_errors=True)
    return root


def current_snapshot(path: str | os.PathLike[str]) -> Path:
    """The folder that :func:`write_folder_atomically` last completed under ``path``."""
    root = Path(path)
    pointer = root / POINTER_FILE
    if not pointer.is_file():
        raise DataNotFoundError(
            f"nothing saved at {root} (no {POINTER_FILE} file): save it first, or check the path"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    snapshot = root / name
    if not name.startswith(SNAPSHOT_PREFIX) or "/" in name or not snapshot.is_dir():
        raise CorruptDataError(
            f"{pointer} names {name!r}, which is not a snapshot folder there: save it again"
        )
    return snapshot
