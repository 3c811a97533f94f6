"""Work through many images or vectors a block of rows at a time.

Encoding 60,000 images in one call would hold every intermediate feature map
at once; a block of :data:`BLOCK_ROWS` rows keeps memory flat and lets a
progress bar move. Every loop over rows in the package (encoding,
reconstruction error, covariance, re-ranking) takes its blocks from here, so
the block size is set in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np

from aesearch_utils import config

BLOCK_ROWS = 4096
"""Rows handled at once: 4096 MNIST images are 13 MiB as float32."""

PREDICT_BATCH = 512
"""Keras' batch size inside one block, when a model encodes or reconstructs."""


def row_blocks(count: int, size: int = BLOCK_ROWS) -> Iterator[slice]:
    """Slices that cover ``range(count)`` in order, ``size`` rows each (the last may be short)."""
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def watched() -> bool:
    """A person may be watching the output: a notebook kernel or a terminal, and not the
    headless runner (a script's log, redirected to a file, gets no progress bars)."""
    if config.is_headless():
        return False
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def map_blocks(
    function: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    *,
    progress: str = "",
    size: int = BLOCK_ROWS,
) -> np.ndarray:
    """``function`` applied to ``rows`` a block at a time, the results stacked as float32.

    ``function`` must map ``(n, ...)`` to ``(n, D)``. ``progress``: a description
    for a progress bar, shown when there is more than one block and someone may be
    watching (:func:`watched`).
    """
    blocks = list(row_blocks(len(rows), size))
    if progress and len(blocks) > 1 and watched():
        from tqdm.auto import tqdm  # only where a person watches

        blocks = tqdm(blocks, desc=progress, unit="block")
    parts = [np.asarray(function(rows[block]), dtype=np.float32) for block in blocks]
    if not parts:
        return np.empty((0, 0), dtype=np.float32)
    return np.concatenate(parts)
