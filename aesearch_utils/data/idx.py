"""Reader for the IDX format of MNIST and Fashion-MNIST (gzip-compressed or not).

An IDX file starts with two zero bytes, a type code, the number of
dimensions, then one big-endian 32-bit size per dimension and the payload.
Images have magic number 2051 (``0x00000803``), labels 2049 (``0x00000801``).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from aesearch_utils.errors import CorruptDataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_SIGNATURE = b"\x1f\x8b"


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file into an array, checking its header against its size.

    Args:
        path: the file, gzip-compressed or plain (detected from its first bytes).
        expected_magic: :data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC` to insist on.

    Raises:
        CorruptDataError: naming the file, when it cannot be decompressed, its
            magic number is wrong, or its payload does not match its header.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _TYPE_CODES or raw[3] == 0:
        raise CorruptDataError(
            f"{path}: not an IDX file (header bytes {raw[:4].hex() or 'missing'}); "
            "expected two zero bytes, a type code and a dimension count"
        )
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise CorruptDataError(
            f"{path}: wrong IDX magic number {magic} (0x{magic:08x}); expected "
            f"{expected_magic} (0x{expected_magic:08x}) for "
            f"{'images' if expected_magic == IMAGES_MAGIC else 'labels'}: "
            "is this the right file?"
        )
    dtype, ndim = _TYPE_CODES[raw[2]], raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise CorruptDataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim))
    expected_bytes = math.prod(shape) * dtype.itemsize
    actual_bytes = len(raw) - header_size
    if actual_bytes != expected_bytes:
        raise CorruptDataError(
            f"{path}: header announces shape {shape} ({expected_bytes} bytes of data) but the "
            f"file holds {actual_bytes} bytes: it is truncated or corrupt; replace it with a "
            "fresh copy"
        )
    # astype copies into a writable, native-endian array (frombuffer's is read-only)
    return (
        np.frombuffer(raw, dtype=dtype, offset=header_size)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.startswith(_GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptDataError(
            f"{path}: cannot be decompressed ({error}); the download is probably truncated: "
            "delete the file and fetch it again"
        ) from None
