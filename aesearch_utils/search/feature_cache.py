"""Encoded galleries kept on disk, so that the same images are never encoded twice alike.

A course run encodes the same split with the same trained encoder again and
again: notebook 12 fits a concatenation's whitening on the gallery's features
and then indexes those same features; notebooks 11, 12 and 13 encode the
same splits with the same models and descriptors; and a rerun encodes it all
once more. :func:`cached_features` stores what an encoder computed for a batch
of images, under a key made of

- the encoder's :meth:`cache_identity` (its kind and settings; for a model's
  layer, the trained model's file with its size and modification time, so
  that a model trained again never reads the old one's features),
- the source of the modules that compute features (a change of the code is a
  change of the features), and
- the images' bytes, shape and dtype.

Only batches of at least :data:`MIN_CACHED_ROWS` images are kept: a search
request never touches the disk. Entries are ``.npy`` files in
``<cache dir>/features/`` (see :mod:`aesearch_utils.config`), written
atomically; an unreadable entry is encoded again and replaced. Delete the folder
to free its space; set ``AESEARCH_FEATURES_CACHE=0`` to switch the cache off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.batching import BLOCK_ROWS
from aesearch_utils.io import write_atomically

FEATURE_CACHE_VERSION = 1
MIN_CACHED_ROWS = BLOCK_ROWS
"""Smaller batches are encoded every time: reading a file would cost more than it saves."""
FEATURE_MODULES = ("batching", "data/preprocessing", "search/descriptors", "search/encoders")
"""The package's modules whose code decides what an encoder outputs."""


def cached_features(
    encoder: object, images: np.ndarray, encode: Callable[[], np.ndarray]
) -> np.ndarray:
    """``encode()``'s result for ``encoder`` and ``images``, read from the cache when stored.

    An encoder without a ``cache_identity`` (or one returning ``None``) is never cached.
    """
    path = _entry(encoder, images)
    if path is None:
        return encode()
    stored = _read(path, len(images))
    if stored is not None:
        return stored
    features = encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: _save(temporary, features))
    return features


def file_identity(path: str | Path) -> str | None:
    """A file's name, size and modification time; ``None`` when it does not exist."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _entry(encoder: object, images: np.ndarray) -> Path | None:
    identity = getattr(encoder, "cache_identity", lambda: None)()
    if identity is None or len(images) < MIN_CACHED_ROWS or not config.features_cache_enabled():
        return None
    digest = hashlib.blake2b(digest_size=16)
    header = f"v{FEATURE_CACHE_VERSION}|{_code_version()}|{identity}|{images.dtype}|{images.shape}"
    digest.update(header.encode())
    digest.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return config.cache_dir() / "features" / f"{digest.hexdigest()}.npy"


def _read(path: Path, rows: int) -> np.ndarray | None:
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, truncated or not an array
        return None
    return features if features.ndim == 2 and len(features) == rows else None


def _save(temporary: Path, features: np.ndarray) -> None:
    with open(temporary, "wb") as file:
        np.save(file, features, allow_pickle=False)


@cache
def _code_version() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for module in FEATURE_MODULES:
        digest.update((package / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]
