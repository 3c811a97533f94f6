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
from aesearch_utils.postprocessing import Whitening
from aesearch_utils.search import unit_vectors


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


class LayerEncoder:
    """Features from inside a trained encoder: the flattened output of one of its layers.

    ``features`` is ``"latent"`` (the code itself) or ``"pool<N>"``, the output
    of the encoder's ``N``-th pooling layer (1 = nearest the image). A pooled
    convolutional feature map keeps *where* each pattern was found, at a
    coarser grain than pixels; the latent has squeezed that through a small
    dense layer. ``flip_average`` averages the features of each image and of
    its mirror image, so that left- and right-facing versions of an object
    describe it alike.
    """

    def __init__(self, model, features: str = "latent", flip_average: bool = False) -> None:
        from aesearch_utils.backend import keras

        self.model = model
        self.features = features
        self.flip_average = flip_average
        self.name = f"{model.name}:{features}" + ("+flip" if flip_average else "")
        output = model.encoder.output if features == "latent" else self._pooling_output(features)
        self._extractor = keras.Model(model.encoder.input, output)

    def _pooling_output(self, features: str):
        pools = [
            layer
            for layer in self.model.encoder.layers
            if "pooling" in type(layer).__name__.lower()
        ]
        number = features.removeprefix("pool")
        if (
            not features.startswith("pool")
            or not number.isdigit()
            or not 1 <= int(number) <= len(pools)
        ):
            raise InvalidInputError(
                f"features must be 'latent' or 'pool1' ... 'pool{len(pools)}' for "
                f"{self.model.name} (its encoder has {len(pools)} pooling layers), got {features!r}"
            )
        return pools[int(number) - 1].output

    @property
    def latent_dim(self) -> int:
        return int(np.prod(self._extractor.output.shape[1:]))

    def encode(self, images: np.ndarray) -> np.ndarray:
        vectors = self._encode(images)
        if self.flip_average:
            vectors = (vectors + self._encode(np.asarray(images)[:, :, ::-1])) / 2
        return vectors

    def _encode(self, images: np.ndarray) -> np.ndarray:
        vectors = np.empty((len(images), self.latent_dim), dtype=np.float32)
        for start in range(0, len(images), 4096):
            batch = as_float_images(images[start : start + 4096])
            output = self._extractor.predict(batch, batch_size=512, verbose=0)
            vectors[start : start + len(batch)] = output.reshape(len(batch), -1)
        return vectors


class ConcatenatedEncoder:
    """Several encoders side by side: each one's features whitened, made unit length, joined.

    Two encoders that err on different images (a conv map that sees local shapes, a dense code
    that sees the whole silhouette) make a better description together than either alone.
    Each part is whitened on its own (:class:`~aesearch_utils.postprocessing.Whitening`, fitted
    on the gallery) and scaled to unit length, so that neither dominates the cosine similarity.
    """

    def __init__(self, parts: list[tuple[Encoder, int, float]], name: str | None = None) -> None:
        if len(parts) < 2:
            raise InvalidInputError("a concatenation needs at least two encoders")
        self.parts = [(encoder, Whitening(dims, power)) for encoder, dims, power in parts]
        self.name = name or " + ".join(encoder.name for encoder, _ in self.parts)
        self._fitted = False

    @property
    def latent_dim(self) -> int:
        return sum(whitening.dims for _, whitening in self.parts)

    def fit(self, gallery_images: np.ndarray) -> ConcatenatedEncoder:
        """Fit each part's whitening on the gallery's features (never on the queries)."""
        for encoder, whitening in self.parts:
            whitening.fit(encoder.encode(gallery_images))
        self._fitted = True
        return self

    def encode(self, images: np.ndarray) -> np.ndarray:
        if not self._fitted:
            raise InvalidInputError("fit the concatenated encoder on the gallery before encoding")
        return np.hstack(
            [
                unit_vectors(whitening.transform(encoder.encode(images)))
                for encoder, whitening in self.parts
            ]
        )
