"""The classic content-based descriptors: gradient-orientation (HOG) and colour histograms.

Before learned features, image search compared *local shape* (histograms of
gradient orientations over small cells, Dalal & Triggs' HOG) and *colour*
(how an image's pixels spread over the colour cube). They need no training,
so they are the baselines a learned code has to beat: an autoencoder that
only matches them has not earned its training time.

Both are :class:`~aesearch_utils.search.encoders.Encoder` s: they go through the
same whitening, index and re-ranking as the autoencoders' features. HOG is
computed for a whole batch at once with numpy; it gives scikit-image's
``skimage.feature.hog`` (the tests compare the two), whose loop over one image
and one block at a time in Python made HOG the slowest encoder of the course.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils.data.preprocessing import as_float_images
from aesearch_utils.errors import InvalidInputError

HOG_ORIENTATIONS = 9
HOG_CELL = 4
"""Pixels per cell side: a 28x28 digit gets 7x7 cells, a 32x32 photo 8x8."""
HOG_BLOCK = 2
"""Cells per block side; each block's histograms are normalised together (L2-Hys)."""


class HOGEncoder:
    """Histograms of oriented gradients: 9 orientations over 4x4-pixel cells, 2x2-cell blocks.

    Colour images use, at each pixel, the gradient of the channel where it is
    strongest (scikit-image's ``channel_axis``), as Dalal & Triggs did.
    """

    def __init__(self, image_shape: tuple[int, ...]) -> None:
        height, width, _ = image_shape
        if min(height, width) < HOG_CELL * HOG_BLOCK:
            raise InvalidInputError(
                f"HOG needs images of at least {HOG_CELL * HOG_BLOCK}x{HOG_CELL * HOG_BLOCK} "
                f"pixels, got {height}x{width}"
            )
        self.image_shape = tuple(image_shape)
        self.name = "hog"

    @property
    def output_dim(self) -> int:
        height, width, _ = self.image_shape
        blocks = (height // HOG_CELL - HOG_BLOCK + 1) * (width // HOG_CELL - HOG_BLOCK + 1)
        return blocks * HOG_BLOCK * HOG_BLOCK * HOG_ORIENTATIONS

    def cache_identity(self) -> str:
        return f"hog|{self.image_shape}"

    def encode(self, images: np.ndarray) -> np.ndarray:
        return oriented_gradient_histograms(as_float_images(images))

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        return {"kind": "hog", "name": self.name, "image_shape": list(self.image_shape)}


def oriented_gradient_histograms(images: np.ndarray) -> np.ndarray:
    """HOG of float ``(N, H, W, C)`` images, ``(N, output_dim)`` float32: scikit-image's
    ``hog(image, 9, (4, 4), (2, 2), channel_axis=...)`` for every image at once."""
    gradient_rows = np.zeros_like(images)
    gradient_rows[:, 1:-1] = images[:, 2:] - images[:, :-2]
    gradient_columns = np.zeros_like(images)
    gradient_columns[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    if images.shape[-1] > 1:
        # each pixel's gradient is that of the channel where it is strongest (first on ties)
        strongest = np.hypot(gradient_rows, gradient_columns).argmax(axis=-1)[..., None]
        gradient_rows = np.take_along_axis(gradient_rows, strongest, axis=-1)
        gradient_columns = np.take_along_axis(gradient_columns, strongest, axis=-1)
    gradient_rows = gradient_rows[..., 0].astype(np.float64)
    gradient_columns = gradient_columns[..., 0].astype(np.float64)
    magnitude = np.hypot(gradient_columns, gradient_rows)
    orientation = np.arctan2(gradient_rows, gradient_columns) * (180 / np.pi) % 180
    # bin b holds [b, b + 1) * 20 degrees, compared as scikit-image compares, not divided
    bin_width = 180 / HOG_ORIENTATIONS
    bins = sum(orientation >= bin_width * b for b in range(1, HOG_ORIENTATIONS))
    count, height, width = magnitude.shape
    cells_high, cells_wide = height // HOG_CELL, width // HOG_CELL
    in_cells = np.s_[:, : cells_high * HOG_CELL, : cells_wide * HOG_CELL]
    image = np.arange(count)[:, None, None]
    cell_row = np.arange(cells_high * HOG_CELL)[None, :, None] // HOG_CELL
    cell_column = np.arange(cells_wide * HOG_CELL)[None, None, :] // HOG_CELL
    slot = ((image * cells_high + cell_row) * cells_wide + cell_column) * HOG_ORIENTATIONS
    sums = np.bincount(
        (slot + bins[in_cells]).ravel(),
        weights=magnitude[in_cells].ravel(),
        minlength=count * cells_high * cells_wide * HOG_ORIENTATIONS,
    )
    # scikit-image averages a cell in single precision
    histograms = (sums / HOG_CELL**2).astype(np.float32).astype(np.float64)
    histograms = histograms.reshape(count, cells_high, cells_wide, HOG_ORIENTATIONS)
    blocks = np.lib.stride_tricks.sliding_window_view(
        histograms, (HOG_BLOCK, HOG_BLOCK), axis=(1, 2)
    ).transpose(0, 1, 2, 4, 5, 3)
    normalised = _l2_hys(blocks.reshape(*blocks.shape[:3], -1))
    return normalised.reshape(count, -1).astype(np.float32)


def _l2_hys(blocks: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Dalal & Triggs' block normalisation: to unit length, clipped at 0.2, to unit length."""
    blocks = blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + eps**2)
    blocks = np.minimum(blocks, 0.2)
    return blocks / np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + eps**2)


class ColourHistogramEncoder:
    """The joint RGB histogram: ``bins`` levels per channel, ``bins**3`` cells in all.

    Each histogram is normalised to sum 1 and square-rooted, so that cosine
    similarity between two of them is the Hellinger (Bhattacharyya) kernel,
    which a dominant background colour cannot swamp the way it swamps a raw
    dot product. Grey images fall on the cube's diagonal.
    """

    def __init__(self, bins: int) -> None:
        if not 2 <= bins <= 16:
            raise InvalidInputError(f"a colour histogram takes 2..16 bins per channel, got {bins}")
        self.bins = bins
        self.name = f"colour:{bins}"

    @property
    def output_dim(self) -> int:
        return self.bins**3

    def encode(self, images: np.ndarray) -> np.ndarray:
        levels = np.minimum((as_float_images(images) * self.bins).astype(np.int64), self.bins - 1)
        if levels.shape[-1] == 1:
            levels = np.repeat(levels, 3, axis=-1)
        cells = (levels[..., 0] * self.bins + levels[..., 1]) * self.bins + levels[..., 2]
        cells = cells.reshape(len(images), -1)
        offsets = np.arange(len(images))[:, None] * self.output_dim
        counts = np.bincount((cells + offsets).ravel(), minlength=len(images) * self.output_dim)
        histograms = counts.reshape(len(images), self.output_dim) / cells.shape[1]
        return np.sqrt(histograms).astype(np.float32)

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        return {"kind": "colour", "name": self.name, "bins": self.bins}
