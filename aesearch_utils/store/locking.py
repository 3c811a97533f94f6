"""One open gallery folder, one owner: the second opener is refused, never left to drift.

A gallery keeps its item labels and (embedded) its FAISS view in the memory of the process that
opened it, filled from the record once. Two processes over one folder would each see only their
own additions and deletions: measured with two service processes, a deletion through one was
still returned first by the other, whose image URL then answered 404. Sharing the changes would
need every reader to poll the record, so the folder is owned instead: :class:`FolderLock` takes
an exclusive ``flock`` on the folder's ``open.lock`` for as long as the gallery is open, and a
second opener (another process, or a second ``Gallery.open`` in the same one) gets an error that
names the owner. The operating system drops the lock when its process dies, so a killed service
never leaves a folder locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from aesearch_utils.errors import AesearchError

LOCK_FILE = "open.lock"


class FolderInUseError(AesearchError, RuntimeError):
    """The gallery folder is already open (in another process, or in this one)."""


class FolderLock:
    """An exclusive, non-blocking lock on ``folder``; :meth:`release` (or process exit) frees it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise FolderInUseError(
                f"{folder} is already open (process {owner}): two openers of one gallery would "
                "each miss the other's changes; close it there first, or serve it from that one "
                "process"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode("ascii"), 0)
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops its flock
            self._descriptor = None
