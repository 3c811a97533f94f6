"""Encoding and reconstruction error of a trained autoencoder, a block of images at a time."""

from __future__ import annotations

import numpy as np

from aesearch_utils.batching import PREDICT_BATCH, map_blocks, row_blocks
from aesearch_utils.data.preprocessing import as_float_images, to_float32
from aesearch_utils.models import Autoencoder


def encode(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Latent vectors ``(N, latent_dim)`` of ``images`` (uint8, or float in [0, 1])."""
    return map_blocks(
        lambda block: model.encoder.predict(
            as_float_images(block), batch_size=PREDICT_BATCH, verbose=0
        ),
        images,
    )


def reconstruct(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Reconstructions (float32 in [0, 1]) of ``images`` (uint8, or float such as noisy ones)."""
    return model.autoencoder.predict(as_float_images(images), batch_size=PREDICT_BATCH, verbose=0)


def reconstruction_mse(
    model: Autoencoder, images: np.ndarray, inputs: np.ndarray | None = None
) -> float:
    """Mean squared error between ``images`` (uint8) and the reconstructions.

    ``inputs`` (float, same shape) replaces the model's input, for example noisy
    versions of ``images`` when evaluating a denoising autoencoder.
    """
    total = 0.0
    for block in row_blocks(len(images)):
        target = to_float32(images[block])
        source = target if inputs is None else inputs[block]
        reconstruction = model.autoencoder.predict(source, batch_size=PREDICT_BATCH, verbose=0)
        total += float(np.sum((reconstruction - target) ** 2, dtype=np.float64))
    return total / images.size


def dead_dimensions(latents: np.ndarray) -> np.ndarray:
    """Boolean mask of latent dimensions that take one value for every image.

    Such a dimension carries no information: for search it is wasted space.
    """
    return np.ptp(latents, axis=0) == 0
