"""Walking through a latent space: interpolations, traversals, and the decoded 2-D plane.

Each function encodes and decodes with a trained :class:`Autoencoder`, so the
same calls serve the static figures of a headless run and the interactive
widgets in JupyterLab (:mod:`aesearch_utils.viz.widgets`).
"""

from __future__ import annotations

import numpy as np

from aesearch_utils.backend import keras
from aesearch_utils.data.preprocessing import as_float_images
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models import Autoencoder


def decode(model: Autoencoder, latents: np.ndarray) -> np.ndarray:
    """Images (float32 in [0, 1]) for latent vectors ``(N, latent_dim)``."""
    latents = np.asarray(latents, dtype=np.float32)
    if latents.ndim != 2 or latents.shape[1] != model.latent_dim:
        raise InvalidInputError(
            f"{model.name} decodes vectors of {model.latent_dim} numbers; got {latents.shape}"
        )
    # a direct call, not predict(): one small batch, redrawn on every slider move
    return keras.ops.convert_to_numpy(model.decoder(latents, training=False))


def embed(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """The latent vectors of a few images (for a VAE: the means)."""
    return keras.ops.convert_to_numpy(model.encoder(as_float_images(images), training=False))


def interpolate(
    model: Autoencoder, image_a: np.ndarray, image_b: np.ndarray, fractions: np.ndarray
) -> np.ndarray:
    """Decoded images along the straight line between two images' codes.

    ``fractions`` are positions on that line: 0 is ``image_a``'s code, 1 is ``image_b``'s.
    """
    start, end = embed(model, np.stack([image_a, image_b]))
    fractions = np.asarray(fractions, dtype=np.float32)[:, None]
    return decode(model, (1 - fractions) * start + fractions * end)


def plane_grid(model: Autoencoder, points: int = 15, spread: float = 2.0) -> np.ndarray:
    """The decoded plane of a 2-D code: ``(points, points, H, W, C)``, rows from high to low z1.

    The plane spans ``[-spread, spread]`` in both coordinates, where a VAE's
    prior puts most of its mass.
    """
    if model.latent_dim != 2:
        raise InvalidInputError(f"the decoded plane needs a 2-D code; {model.name} has "
                                f"{model.latent_dim} dimensions")  # fmt: skip
    values = np.linspace(-spread, spread, points, dtype=np.float32)
    z0, z1 = np.meshgrid(values, values[::-1])
    images = decode(model, np.stack([z0.ravel(), z1.ravel()], axis=1))
    return images.reshape(points, points, *images.shape[1:])
