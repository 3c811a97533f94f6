"""Reader for CIFAR-10's original "python version" batches.

The batches are Python pickles (as distributed by the dataset's authors and
read the same way by ``keras.datasets.cifar10``): unpickling can run code, so
only read copies you obtained from a source you trust.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path
from typing import IO

import numpy as np

from aesearch_utils.errors import CorruptDataError

BATCHES_FOLDER = "cifar-10-batches-py"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{number}" for number in range(1, 6))
TEST_BATCH = "test_batch"
_IMAGE_BYTES = 32 * 32 * 3

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_cifar_batches(path: str | Path) -> Arrays:
    """Read ``x_train, y_train, x_test, y_test`` from the batches folder or the ``.tar.gz``.

    Images come back as ``uint8`` arrays of shape ``(N, 32, 32, 3)``.
    """
    path = Path(path)
    if path.is_dir():
        batches = {name: _read_folder_batch(path / name) for name in (*TRAIN_BATCHES, TEST_BATCH)}
    else:
        batches = _read_archive_batches(path)
    x_train, y_train = (
        np.concatenate(parts)
        for parts in zip(*(batches[name] for name in TRAIN_BATCHES), strict=True)
    )
    x_test, y_test = batches[TEST_BATCH]
    return x_train, y_train, x_test, y_test


def _read_folder_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise CorruptDataError(
            f"{path} is missing: a CIFAR-10 batches folder needs {', '.join(TRAIN_BATCHES)} "
            f"and {TEST_BATCH}"
        )
    with open(path, "rb") as handle:
        return _decode_batch(handle, str(path))


def _read_archive_batches(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    batches = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = Path(member.name).name
                if member.isfile() and name in (*TRAIN_BATCHES, TEST_BATCH):
                    handle = archive.extractfile(member)
                    assert handle is not None  # regular files always have a handle
                    batches[name] = _decode_batch(handle, f"{path}:{member.name}")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise CorruptDataError(f"{path}: cannot read the archive ({error})") from None
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if name not in batches]
    if missing:
        raise CorruptDataError(f"{path}: the archive lacks {', '.join(missing)}")
    return batches


def _decode_batch(handle: IO[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise CorruptDataError(f"{where}: not a CIFAR-10 batch ({error!r})") from None
    if data.ndim != 2 or data.shape[1] != _IMAGE_BYTES or len(data) != len(labels):
        raise CorruptDataError(
            f"{where}: expected N rows of {_IMAGE_BYTES} bytes and N labels, got data of shape "
            f"{data.shape} and {len(labels)} labels"
        )
    # rows are stored channel-first (all red, then green, then blue)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels
