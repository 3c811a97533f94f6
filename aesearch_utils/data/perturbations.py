"""Changes a real upload brings: the queries of the robustness table.

A test image is as clean as the gallery: scanned, centred and scaled the same
way. A user's image is drawn, photographed or scanned otherwise. Each change
below stands for one way that happens, at one strength a user would not think
of as a different picture:

========== ========== =========================================================
change     strength   stands for
========== ========== =========================================================
blur       sigma 1 px a photo slightly out of focus, a soft brush, an upscaled thumbnail
darker     0.7x       an under-exposed photo, a pale pen (every value times 0.7)
contrast   0.6x       a washed-out scan (values pulled 40 % towards mid-grey)
shift      2 px       a drawing not centred the way the gallery was (right and down)
rotation   10 deg     a slanted photo or scan
noise      sigma 0.05 sensor noise of a phone camera in poor light
========== ========== =========================================================

:func:`perturb` returns a changed copy with the input's dtype; the same
``seed`` gives the same noise. :func:`random_perturbations` draws, per image,
a random mix of the same kinds of change, each at most as strong as above,
for training an autoencoder to reconstruct the clean image from a changed
one (the invariance that raw pixels lack). The robustness table's changes
therefore lie inside that training distribution: what the table measures
is whether the learned code absorbed them, not whether it generalises to
changes it never saw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aesearch_utils.data.noise import add_noise
from aesearch_utils.data.preprocessing import as_float_images
from aesearch_utils.errors import UnknownNameError


def _blur(images: np.ndarray, seed: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, sigma=(0, 1.0, 1.0, 0), mode="nearest")


def _darker(images: np.ndarray, seed: int) -> np.ndarray:
    return images * 0.7


def _contrast(images: np.ndarray, seed: int) -> np.ndarray:
    return 0.5 + (images - 0.5) * 0.6


def _shift(images: np.ndarray, seed: int) -> np.ndarray:
    from scipy.ndimage import shift

    return shift(images, (0, 2, 2, 0), order=0, mode="nearest")


def _rotation(images: np.ndarray, seed: int) -> np.ndarray:
    from scipy.ndimage import rotate

    return rotate(images, 10, axes=(1, 2), reshape=False, order=1, mode="nearest")


def _noise(images: np.ndarray, seed: int) -> np.ndarray:
    return add_noise(images, "gaussian", 0.05, seed)


PERTURBATIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "blur": _blur,
    "darker": _darker,
    "contrast": _contrast,
    "shift": _shift,
    "rotation": _rotation,
    "noise": _noise,
}
"""Each change a query may go through, by name (the module docstring says why each)."""


def random_perturbations(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A changed copy of float ``images`` in [0, 1], every strength drawn anew: each image
    shifted by up to 2 px and rotated by up to 10 degrees (half of them), half of the batch
    blurred with one sigma of 0.3-1 px, and each image scaled in brightness by 0.7-1.0 and
    in contrast by 0.6-1.0 and given noise with sigma up to 0.05."""
    from scipy.ndimage import gaussian_filter

    count, height, width, _ = images.shape
    angles = np.radians(rng.uniform(-10, 10, count) * (rng.random(count) < 0.5))
    offsets = rng.integers(-2, 3, size=(count, 2, 1, 1)).astype(np.float32)
    cos = np.cos(angles).astype(np.float32)[:, None, None]
    sin = np.sin(angles).astype(np.float32)[:, None, None]
    rows, columns = np.meshgrid(
        np.arange(height, dtype=np.float32) - (height - 1) / 2,
        np.arange(width, dtype=np.float32) - (width - 1) / 2,
        indexing="ij",
    )
    rows, columns = rows - offsets[:, 0], columns - offsets[:, 1]
    # every output pixel reads the input where the inverse rotation and shift put it,
    # interpolated bilinearly between its four neighbours (edges repeat outwards)
    source_rows = np.clip(cos * rows - sin * columns + (height - 1) / 2, 0, height - 1)
    source_columns = np.clip(sin * rows + cos * columns + (width - 1) / 2, 0, width - 1)
    top, left = np.floor(source_rows).astype(int), np.floor(source_columns).astype(int)
    bottom, right = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    down = (source_rows - top)[..., None].astype(images.dtype)
    across = (source_columns - left)[..., None].astype(images.dtype)
    image = np.arange(count)[:, None, None]
    changed = (images[image, top, left] * (1 - down) + images[image, bottom, left] * down) * (
        1 - across
    ) + (images[image, top, right] * (1 - down) + images[image, bottom, right] * down) * across
    blurred = rng.random(count) < 0.5
    sigma = rng.uniform(0.3, 1.0)
    changed[blurred] = gaussian_filter(changed[blurred], (0, sigma, sigma, 0), mode="nearest")
    shape = (count, 1, 1, 1)
    changed *= rng.uniform(0.7, 1.0, shape).astype(images.dtype)
    changed = 0.5 + (changed - 0.5) * rng.uniform(0.6, 1.0, shape).astype(images.dtype)
    changed += rng.normal(0, 1, changed.shape).astype(images.dtype) * rng.uniform(0, 0.05, shape)
    return np.clip(changed, 0.0, 1.0, out=changed).astype(images.dtype, copy=False)


def perturb(images: np.ndarray, change: str, seed: int = 0) -> np.ndarray:
    """A copy of ``images`` (uint8, or float in [0, 1]) gone through ``change``."""
    if change not in PERTURBATIONS:
        raise UnknownNameError("query change", change, tuple(PERTURBATIONS))
    changed = np.clip(PERTURBATIONS[change](as_float_images(images), seed), 0.0, 1.0)
    if images.dtype == np.uint8:
        return np.round(changed * 255).astype(np.uint8)
    return changed.astype(images.dtype)
