"""The classic content-based descriptors: gradient-orientation (HOG) and colour histograms.

Before learned features, image search compared *local shape* (histograms of
gradient orientations over small cells, Dalal & Triggs' HOG) and *colour*
(how an image's pixels spread over the colour cube). They need no training,
so they are the baselines a learned code has to beat: an autoencoder that
only matches them has not earned its training time.

Both are :class:`~aesearch_utils.search.encoders.Encoder` s: they go through the
same whitening, index and re-ranking as the autoencoders' features.
scikit-image is imported when an image is first described, so that the
search core loads without it.
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
        from skimage.feature import hog

        images = as_float_images(images)
        colour = images.shape[-1] > 1
        return np.stack(
            [
                hog(
                    image if colour else image[..., 0],
                    orientations=HOG_ORIENTATIONS,
                    pixels_per_cell=(HOG_CELL, HOG_CELL),
                    cells_per_block=(HOG_BLOCK, HOG_BLOCK),
                    channel_axis=-1 if colour else None,
                )
                for image in images
            ]
        ).astype(np.float32)

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        return {"kind": "hog", "name": self.name, "image_shape": list(self.image_shape)}


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
