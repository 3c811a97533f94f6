"""Encoded galleries and exact searches kept on disk, so that a run never computes them twice.

A course run encodes the same split with the same trained encoder again and
again (notebook 12 fits a concatenation's whitening on the gallery's
features, then indexes those same features; notebooks 11, 12 and 13 encode
the same splits), searches the same gallery with the same queries (the
robustness table's unchanged queries are the test table's), and a rerun
does it all once more. Three kinds of results are kept:

- :func:`cached_features`: what an encoder made of a batch of images, keyed by
  the encoder's ``cache_identity()`` (its kind and settings; for a model's
  layer, the trained model's file with its size and modification time, so a
  model trained again never reads the old one's features) and the images;
- :func:`cached_neighbours`: an exact search's rows and distances, keyed by
  the gallery vectors, the query vectors, ``k`` and the metric;
- :func:`cached_statistics`: what is computed over a batch of vectors or images
  (a whitening's principal axes, a PCA, a UMAP map, a model's reconstruction error), keyed by the
  statistic's name and the array.

Every key also holds the source of the modules that compute these arrays (a
change of the code is a change of the results). Only batches of at least
:data:`MIN_CACHED_ROWS` rows, and searches of at least :data:`MIN_CACHED_QUERIES`
queries, are kept: a search request never touches the disk. Entries are
``.npz`` files in ``<cache dir>/arrays/`` (see :mod:`aesearch_utils.config`),
written atomically; an unreadable entry is computed again and replaced.
Delete the folder to free its space; set ``AESEARCH_ARRAY_CACHE=0`` to switch
the cache off.

A timing must not shrink because the cache answered: each entry stores the
seconds it took to compute, and :class:`CostTimer` adds the seconds that
cache hits spared inside a timed block, as a trained model's record keeps
its training time.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import xxhash

from aesearch_utils import config
from aesearch_utils.batching import BLOCK_ROWS
from aesearch_utils.io import write_atomically

ARRAY_CACHE_VERSION = 1
MIN_CACHED_ROWS = BLOCK_ROWS
"""Smaller batches are computed every time: reading a file would cost more than it saves."""
MIN_CACHED_QUERIES = 1024
"""Fewer queries are searched every time: a request or a latency sample is one query, while
a thousand queries against a gallery of tens of thousands (notebook 9's comparison of
distances) take seconds."""
RESULT_MODULES = (
    "batching",
    "data/preprocessing",
    "search/descriptors",
    "search/encoders",
    "search/neighbours",
    "search/vector_index/faiss_indexes",
    "search/whitening",
    "training/evaluation",
)
"""The package's modules whose code decides what the cached arrays hold."""

_spared_seconds = 0.0
"""Compute seconds that cache hits have spared this process (see :class:`CostTimer`)."""


def cached_features(
    encoder: object, images: np.ndarray, encode: Callable[[], np.ndarray]
) -> np.ndarray:
    """``encode()``'s result for ``encoder`` and ``images``, read back when stored.

    An encoder without a ``cache_identity`` (or one returning ``None``) is never cached.
    """
    identity = getattr(encoder, "cache_identity", lambda: None)()
    if identity is None or len(images) < MIN_CACHED_ROWS:
        return encode()
    (features,) = _cached("features", [identity, array_digest(images)], lambda: (encode(),))
    return features


def cached_neighbours(
    gallery_digest: Callable[[], str],
    queries: np.ndarray,
    k: int,
    metric: str,
    search: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """``search()``'s ``(rows, distances)`` for these queries, read back when stored.

    ``gallery_digest`` gives the gallery's :func:`array_digest`; it is called only
    for a batch large enough to be cached.
    """
    if len(queries) < MIN_CACHED_QUERIES:
        return search()
    rows, distances = _cached(
        "neighbours", [metric, k, gallery_digest(), array_digest(queries)], search
    )
    return rows, distances


def cached_statistics(
    name: str, array: np.ndarray, compute: Callable[[], tuple[np.ndarray, ...]]
) -> tuple[np.ndarray, ...]:
    """``compute()``'s arrays, the statistic ``name`` of ``array``, read back when stored."""
    if len(array) < MIN_CACHED_ROWS:
        return compute()
    return _cached("statistics", [name, array_digest(array)], compute)


def array_digest(array: np.ndarray) -> str:
    """A hash of an array's dtype, shape and values.

    XXH3 (128 bits) rather than a cryptographic hash: the key names work this
    machine did and guards against no adversary, and a rerun hashes the same
    training splits dozens of times, where a cryptographic hash was a visible
    part of notebook 12's time.
    """
    array = np.ascontiguousarray(array)
    digest = xxhash.xxh3_128(f"{array.dtype}|{array.shape}".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def file_identity(path: str | Path) -> str | None:
    """A file's name, size and modification time; ``None`` when it does not exist."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


class CostTimer:
    """Time a block as if nothing in it came from the cache: its wall seconds plus the compute
    seconds that cache hits spared in it. ``with CostTimer() as timer: ...``, then
    ``timer.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> CostTimer:
        self._start, self._spared = time.perf_counter(), _spared_seconds
        return self

    def __exit__(self, *exception: object) -> None:
        wall = time.perf_counter() - self._start
        self.seconds = wall + _spared_seconds - self._spared


def _cached(
    kind: str, key: Sequence[object], compute: Callable[[], tuple[np.ndarray, ...]]
) -> tuple[np.ndarray, ...]:
    global _spared_seconds
    if not config.array_cache_enabled():
        return compute()
    name = hashlib.blake2b(
        "|".join(map(str, [f"v{ARRAY_CACHE_VERSION}", _code_version(), *key])).encode(),
        digest_size=16,
    ).hexdigest()
    path = config.cache_dir() / "arrays" / kind / f"{name}.npz"
    start = time.perf_counter()
    stored = _read(path)
    if stored is not None:
        arrays, seconds = stored
        _spared_seconds += max(0.0, seconds - (time.perf_counter() - start))
        return arrays
    start = time.perf_counter()
    arrays = tuple(compute())
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: _save(temporary, arrays, seconds))
    return arrays


def _read(path: Path) -> tuple[tuple[np.ndarray, ...], float] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            count = len(stored.files) - 1
            arrays = tuple(stored[f"arr_{number}"] for number in range(count))
            return arrays, float(stored["seconds"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # missing, truncated
        return None


def _save(temporary: Path, arrays: tuple[np.ndarray, ...], seconds: float) -> None:
    with open(temporary, "wb") as file:
        np.savez(file, *arrays, seconds=np.float64(seconds))


@cache
def _code_version() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for module in RESULT_MODULES:
        digest.update((package / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]
