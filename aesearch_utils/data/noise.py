"""Corruptions for denoising training and robustness tests, on float images in [0, 1]."""

from __future__ import annotations

import numpy as np

from aesearch_utils.errors import InvalidInputError, UnknownNameError

NOISE_KINDS = ("gaussian", "salt_and_pepper", "masking")


def add_noise(images: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """A noisy copy of ``images`` (float, in [0, 1]); the input is not modified.

    Args:
        kind: ``gaussian`` (``level`` is the standard deviation), ``salt_and_pepper``
            (``level`` is the share of pixels set to 0 or 1) or ``masking`` (``level``
            is the share of pixels set to 0).
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
    # one draw per pixel position: all channels of a pixel are hit together
    pixel_shape = (*noisy.shape[:-1], 1)
    hit = rng.random(pixel_shape) < level
    if kind == "masking":
        return np.where(hit, 0.0, noisy).astype(noisy.dtype)
    salt = rng.random(pixel_shape) < 0.5
    return np.where(hit, np.where(salt, 1.0, 0.0), noisy).astype(noisy.dtype)
