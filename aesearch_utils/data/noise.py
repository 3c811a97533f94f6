"""Corruptions for denoising training and robustness tests, on float images in [0, 1]."""

from __future__ import annotations

import numpy as np

from aesearch_utils.errors import InvalidInputError, UnknownNameError

NOISE_KINDS = ("gaussian", "salt_and_pepper", "masking", "patch_masking")
PATCH_SIZE = 4
"""Side in pixels of the squares ``patch_masking`` hides (a 7 x 7 grid of them on MNIST)."""


def add_noise(images: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """A noisy copy of ``images`` (float, in [0, 1]); the input is not modified.

    Args:
        kind: ``gaussian`` (``level`` is the standard deviation), ``salt_and_pepper``
            (``level`` is the share of pixels set to 0 or 1), ``masking`` (``level``
            is the share of pixels set to 0) or ``patch_masking`` (``level`` is the share
            of :data:`PATCH_SIZE`-pixel squares of a grid set to 0, as a masked-patch
            autoencoder hides them).
        level: noise strength, 0 gives an unchanged copy.
        seed: the same seed gives the same noise.
    """
    if kind not in NOISE_KINDS:
        raise UnknownNameError("noise kind", kind, NOISE_KINDS)
    if not np.issubdtype(np.asarray(images).dtype, np.floating):
        raise InvalidInputError(
            f"add_noise expects float images in [0, 1], got {np.asarray(images).dtype}; "
            "scale them first with to_float32"
        )
    upper = None if kind == "gaussian" else 1
    if level < 0 or (upper is not None and level > upper):
        raise InvalidInputError(f"{kind} noise level must be in [0, {upper or 'inf'}), got {level}")
    rng = np.random.default_rng(seed)
    noisy = np.array(images, copy=True)
    if kind == "gaussian":
        noisy += rng.normal(0.0, level, size=noisy.shape).astype(noisy.dtype)
        return np.clip(noisy, 0.0, 1.0, out=noisy)
    # one draw per pixel position (or grid square): all channels of a pixel are hit together
    pixel_shape = (*noisy.shape[:-1], 1)
    if kind == "patch_masking":
        count, height, width = noisy.shape[:3]
        grid = (count, -(-height // PATCH_SIZE), -(-width // PATCH_SIZE), 1)
        squares = rng.random(grid) < level
        hit = squares.repeat(PATCH_SIZE, axis=1).repeat(PATCH_SIZE, axis=2)[:, :height, :width]
        return np.where(hit, 0.0, noisy).astype(noisy.dtype)
    hit = rng.random(pixel_shape) < level
    if kind == "masking":
        return np.where(hit, 0.0, noisy).astype(noisy.dtype)
    salt = rng.random(pixel_shape) < 0.5
    return np.where(hit, np.where(salt, 1.0, 0.0), noisy).astype(noisy.dtype)
