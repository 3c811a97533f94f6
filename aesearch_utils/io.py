"""Atomic file writing: a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
        # mkstemp creates files readable by their owner only; give the result the
        # permissions any other new file would get
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


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
