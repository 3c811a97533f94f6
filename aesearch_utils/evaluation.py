"""Encoding and reconstruction error, computed in batches to keep memory flat."""

from __future__ import annotations

import numpy as np

from aesearch_utils.data.preprocessing import as_float_images, to_float32
from aesearch_utils.models import Autoencoder

CHUNK = 4096


def _chunks(count: int, size: int = CHUNK):
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def encode(model: Autoencoder, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Latent vectors ``(N, latent_dim)`` of ``images`` (uint8, or float in [0, 1]), by chunks."""
    latents = np.empty((len(images), model.latent_dim), dtype=np.float32)
    for part in _chunks(len(images)):
        latents[part] = model.encoder.predict(
            as_float_images(images[part]), batch_size=batch_size, verbose=0
        )
    return latents


def reconstruct(model: Autoencoder, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Reconstructions (float32 in [0, 1]) of ``images`` (uint8, or float such as noisy ones)."""
    return model.autoencoder.predict(as_float_images(images), batch_size=batch_size, verbose=0)


def reconstruction_mse(
    model: Autoencoder, images: np.ndarray, inputs: np.ndarray | None = None
) -> float:
    """Mean squared error between ``images`` (uint8) and the reconstructions.

    ``inputs`` (float, same shape) replaces the model's input, for example noisy
    versions of ``images`` when evaluating a denoising autoencoder.
    """
    total = 0.0
    for part in _chunks(len(images)):
        target = to_float32(images[part])
        source = target if inputs is None else inputs[part]
        reconstruction = model.autoencoder.predict(source, batch_size=512, verbose=0)
        total += float(np.sum((reconstruction - target) ** 2, dtype=np.float64))
    return total / images.size


def dead_dimensions(latents: np.ndarray) -> np.ndarray:
    """Boolean mask of latent dimensions that take one value for every image.

    Such a dimension carries no information: for search it is wasted space.
    """
    return np.ptp(latents, axis=0) == 0
