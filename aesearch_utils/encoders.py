"""Encoders turn images into the vectors a search index compares.

An encoder is anything with a ``name``, a ``latent_dim`` and
``encode(images) -> (N, latent_dim) float32``, where ``images`` are uint8
(0..255) or float in [0, 1]. A trained autoencoder and the two baselines
(raw pixels, PCA fitted on the gallery) all fit that shape, so every one
of them goes through the same index and the same evaluation.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from sklearn.decomposition import PCA

from aesearch_utils.data.preprocessing import as_float_images
from aesearch_utils.errors import InvalidInputError


class Encoder(Protocol):
    name: str

    @property
    def latent_dim(self) -> int: ...

    def encode(self, images: np.ndarray) -> np.ndarray: ...


class PixelEncoder:
    """The raw-pixel baseline: every pixel value, flattened."""

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        self.image_shape = tuple(image_shape)
        self.name = "raw_pixels"

    @property
    def latent_dim(self) -> int:
        return int(np.prod(self.image_shape))

    def encode(self, images: np.ndarray) -> np.ndarray:
        return as_float_images(images).reshape(len(images), -1)


class PCAEncoder:
    """The linear baseline: the gallery's first ``components`` principal components."""

    def __init__(self, components: int, seed: int = 0) -> None:
        self.components = components
        self.seed = seed
        self.name = f"pca_{components}"
        self._pca: PCA | None = None

    @property
    def latent_dim(self) -> int:
        return self.components

    def fit(self, gallery_images: np.ndarray) -> PCAEncoder:
        """Fit on the gallery (training split) only; queries are projected, never fitted."""
        self._pca = PCA(self.components, random_state=self.seed)
        self._pca.fit(as_float_images(gallery_images).reshape(len(gallery_images), -1))
        return self

    def encode(self, images: np.ndarray) -> np.ndarray:
        flat = as_float_images(images).reshape(len(images), -1)
        return self._fitted().transform(flat).astype(np.float32)

    def reconstruction_mse(self, images: np.ndarray) -> float:
        """Mean squared error of projecting ``images`` onto the components and back."""
        flat = as_float_images(images).reshape(len(images), -1)
        restored = self._fitted().inverse_transform(self._fitted().transform(flat))
        return float(np.mean((np.clip(restored, 0, 1) - flat) ** 2))

    def _fitted(self) -> PCA:
        if self._pca is None:
            raise InvalidInputError("fit the PCA encoder on the gallery before encoding")
        return self._pca


class ModelEncoder:
    """A trained autoencoder's encoder, applied in chunks."""

    def __init__(self, model, name: str | None = None) -> None:  # model: models.Autoencoder
        self.model = model
        self.name = name or model.name

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        from aesearch_utils.evaluation import encode

        return encode(self.model, images)
