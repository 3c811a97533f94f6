"""Encoders turn images into the vectors a search index compares.

An encoder is anything with a ``name``, an ``output_dim`` and
``encode(images) -> (N, output_dim) float32``, where ``images`` are uint8
(0..255) or float in [0, 1]. A trained autoencoder (its latent, or the
feature map of one of its layers) and the baselines (raw pixels, PCA
fitted on the gallery, the classic descriptors of
:mod:`~aesearch_utils.search.descriptors`) all fit that shape, so every one of them goes through
the same index and the same evaluation.

A fitted encoder saves its state into a folder (``save_state``) and
:func:`load_encoder` reopens it there without the training images: a saved
search pipeline starts without encoding its gallery again. Keras is imported
only by the encoders that run a model, and only when they do, so that the
search core loads in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aesearch_utils.batching import PREDICT_BATCH, map_blocks
from aesearch_utils.data.preprocessing import as_float_images, stretch_levels
from aesearch_utils.errors import (
    AesearchError,
    CorruptDataError,
    InvalidInputError,
    UnknownNameError,
)
from aesearch_utils.search.array_cache import cached_features, cached_statistics, file_identity
from aesearch_utils.search.descriptors import ColourHistogramEncoder, HOGEncoder
from aesearch_utils.search.feature_spec import ModelFeatures
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.whitening import Whitening


class Encoder(Protocol):
    name: str

    @property
    def output_dim(self) -> int: ...

    def encode(self, images: np.ndarray) -> np.ndarray: ...

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        """Write what :func:`load_encoder` needs into ``folder`` (file names start with
        ``key``) and return its JSON description."""
        ...


def check_images(images: np.ndarray, expected_shape: tuple[int, ...] | None = None) -> None:
    """Raise a clear error unless ``images`` is a non-empty ``(N, H, W, C)`` uint8/float batch
    (of ``expected_shape`` images, when given)."""
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise InvalidInputError(
            "images must be an array of shape (N, height, width, channels), got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    if len(images) == 0:
        raise InvalidInputError("no images given: the gallery or query batch is empty")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise InvalidInputError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
        raise InvalidInputError(
            f"query images are {images.shape[1:]}, the gallery's are {tuple(expected_shape)}: "
            "resize them (load_image_folder(..., image_size=...)) or use a matching index"
        )


def encode_images(encoder: Encoder, images: np.ndarray, progress: bool = False) -> np.ndarray:
    """``encoder.encode`` over ``images`` a block at a time (with a progress bar in JupyterLab
    when ``progress``), read from the :mod:`~aesearch_utils.search.array_cache` when this
    encoder has encoded these images before."""
    if isinstance(encoder, ConcatenatedEncoder):
        return encoder.join(encode_images(part, images, progress) for part, _ in encoder.parts)
    return cached_features(
        encoder,
        images,
        lambda: map_blocks(
            encoder.encode, images, progress=f"encoding with {encoder.name}" if progress else ""
        ),
    )


class PixelEncoder:
    """The raw-pixel baseline: every pixel value, flattened."""

    def __init__(self, image_shape: tuple[int, ...]) -> None:
        self.image_shape = tuple(image_shape)
        self.name = "raw_pixels"

    @property
    def output_dim(self) -> int:
        return int(np.prod(self.image_shape))

    def encode(self, images: np.ndarray) -> np.ndarray:
        return as_float_images(images).reshape(len(images), -1)

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        return {"kind": "pixels", "name": self.name, "image_shape": list(self.image_shape)}


class PCAEncoder:
    """The linear baseline: the gallery's first ``components`` principal components."""

    def __init__(self, components: int, seed: int = 0) -> None:
        self.components = components
        self.seed = seed
        self.name = f"pca_{components}"
        self._mean: np.ndarray | None = None
        self._axes: np.ndarray | None = None

    @property
    def output_dim(self) -> int:
        return self.components

    def fit(self, gallery_images: np.ndarray) -> PCAEncoder:
        """Fit on the gallery (training split) only; queries are projected, never fitted.

        A large gallery's fit is kept in the :mod:`~aesearch_utils.search.array_cache`: the
        same fit recurs in notebooks 10, 11 and 12 and in every rerun.
        """
        import sklearn
        from sklearn.decomposition import PCA

        def compute() -> tuple[np.ndarray, np.ndarray]:
            pca = PCA(self.components, random_state=self.seed)
            pca.fit(as_float_images(gallery_images).reshape(len(gallery_images), -1))
            return pca.mean_, pca.components_

        self._mean, self._axes = cached_statistics(
            f"pca|{self.components}|{self.seed}|sklearn {sklearn.__version__}",
            gallery_images,
            compute,
        )
        return self

    @classmethod
    def fitted(
        cls, components: int, mean: np.ndarray, axes: np.ndarray, seed: int = 0
    ) -> PCAEncoder:
        """A PCA encoder with a known ``mean`` ``(D,)`` and ``axes`` ``(components, D)``."""
        if axes.shape != (components, len(mean)):
            raise CorruptDataError(
                f"PCA axes of shape {axes.shape} do not match {components} components of "
                f"{len(mean)}-D images"
            )
        encoder = cls(components, seed)
        encoder._mean, encoder._axes = mean, axes
        return encoder

    def encode(self, images: np.ndarray) -> np.ndarray:
        mean, axes = self._fitted()
        flat = as_float_images(images).reshape(len(images), -1)
        return ((flat - mean) @ axes.T).astype(np.float32)

    def reconstruction_mse(self, images: np.ndarray) -> float:
        """Mean squared error of projecting ``images`` onto the components and back."""
        mean, axes = self._fitted()
        flat = as_float_images(images).reshape(len(images), -1)
        restored = self.encode(images) @ axes + mean
        return float(np.mean((np.clip(restored, 0, 1) - flat) ** 2))

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        mean, axes = self._fitted()
        np.savez(folder / f"{key}.npz", mean=mean, axes=axes)
        return {"kind": "pca", "name": self.name, "components": self.components, "seed": self.seed}

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self._mean is None or self._axes is None:
            raise InvalidInputError("fit the PCA encoder on the gallery before encoding")
        return self._mean, self._axes


class LayerEncoder:
    """Features from inside a trained encoder: the flattened output of one of its layers.

    Build it with :meth:`from_autoencoder`. ``features`` is ``"latent"`` (the
    code itself) or ``"pool<N>"``, the output of the encoder's ``N``-th pooling
    layer (1 = nearest the image). A pooled convolutional feature map keeps
    *where* each pattern was found, at a coarser grain than pixels; the latent
    has squeezed that through a small dense layer. Three modifiers (the
    ``+levels``, ``+flip`` and ``+unit`` of a feature spec) aim at queries that
    differ from the gallery: ``stretch_levels`` stretches each image's levels
    to the full range first (:func:`~aesearch_utils.data.preprocessing.stretch_levels`),
    so a darker or washed-out image reads as the clean one; ``flip_average``
    averages the features of each image and of its mirror image, so that left-
    and right-facing versions of an object describe it alike; ``square_root``
    replaces each feature by its signed square root (the power normalisation of
    Perronnin, Sánchez and Mensink's improved Fisher vectors, and of RootSIFT):
    a conv map's few strongest responses, often an edge of high contrast, then
    weigh less against the many weaker ones that describe the rest of the
    shape; ``unit_length`` scales the features to unit length, so that a
    fainter image, whose conv responses are weaker all over, points the same
    way before a whitening subtracts the gallery's mean.

    Args:
        extractor: a Keras model from images to the features.
        source: the trained model's file identity
            (:func:`~aesearch_utils.search.array_cache.file_identity`); with it, encoded
            galleries are cached.
    """

    def __init__(
        self,
        extractor,
        name: str,
        *,
        stretch_levels: bool = False,
        flip_average: bool = False,
        square_root: bool = False,
        unit_length: bool = False,
        source: str | None = None,
    ) -> None:
        self.extractor = extractor
        self.name = name
        self.stretch_levels = stretch_levels
        self.flip_average = flip_average
        self.square_root = square_root
        self.unit_length = unit_length
        self.source = source

    @classmethod
    def from_autoencoder(
        cls,
        model,
        features: str = "latent",
        *,
        stretch_levels: bool = False,
        flip_average: bool = False,
        square_root: bool = False,
        unit_length: bool = False,
        source: str | None = None,
    ) -> LayerEncoder:
        """The ``features`` of a trained :class:`~aesearch_utils.models.Autoencoder`."""
        from aesearch_utils.backend import keras

        output = model.encoder.output if features == "latent" else _pooling_output(model, features)
        options = {
            "stretch_levels": stretch_levels,
            "flip_average": flip_average,
            "square_root": square_root,
            "unit_length": unit_length,
        }
        spec = str(ModelFeatures(model.name, features, **options))
        return cls(
            keras.Model(model.encoder.input, output),
            spec.replace(":latent", "") if features == "latent" else spec,
            **options,
            source=source,
        )

    @classmethod
    def from_trained(cls, trained, features: str = "latent", **options: bool) -> LayerEncoder:
        """:meth:`from_autoencoder` for a :class:`~aesearch_utils.training.TrainedAutoencoder`:
        its model's file names the encodings, so the array cache keeps them for a rerun."""
        return cls.from_autoencoder(
            trained.model, features, source=file_identity(trained.path), **options
        )

    @property
    def output_dim(self) -> int:
        return int(np.prod(self.extractor.output.shape[1:]))

    def cache_identity(self) -> str | None:
        if self.source is None:
            return None
        # the name is the feature spec's text: the layer and the modifiers
        modifiers = self.stretch_levels, self.flip_average, self.square_root, self.unit_length
        return f"layer|{self.source}|{self.name}|{self.output_dim}|{modifiers}"

    def encode(self, images: np.ndarray) -> np.ndarray:
        vectors = map_blocks(self._encode, images)
        if self.flip_average:
            vectors = (vectors + map_blocks(self._encode, np.asarray(images)[:, :, ::-1])) / 2
        if self.square_root:
            vectors = np.sign(vectors) * np.sqrt(np.abs(vectors))
        return unit_vectors(vectors) if self.unit_length else vectors

    def _encode(self, images: np.ndarray) -> np.ndarray:
        batch = stretch_levels(images) if self.stretch_levels else as_float_images(images)
        if len(batch) <= PREDICT_BATCH:
            # predict() sets up a data pipeline per call, and an eager call runs layer by
            # layer in Python: for the few images of a search request both cost more than
            # the model itself; predict_on_batch runs the compiled graph
            # (benchmarks/service_load.py measures what that does for the service)
            output = np.asarray(self.extractor.predict_on_batch(batch))
        else:
            output = self.extractor.predict(batch, batch_size=PREDICT_BATCH, verbose=0)
        return output.reshape(len(images), -1)

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        self.extractor.save(folder / f"{key}.keras")
        return {
            "kind": "layer",
            "name": self.name,
            "stretch_levels": self.stretch_levels,
            "flip_average": self.flip_average,
            "square_root": self.square_root,
            "unit_length": self.unit_length,
        }


def _pooling_output(model, features: str):
    pools = [layer for layer in model.encoder.layers if "pooling" in type(layer).__name__.lower()]
    number = features.removeprefix("pool")
    if (
        not features.startswith("pool")
        or not number.isdigit()
        or not 1 <= int(number) <= len(pools)
    ):
        raise InvalidInputError(
            f"features must be 'latent' or 'pool1' ... 'pool{len(pools)}' for {model.name} "
            f"(its encoder has {len(pools)} pooling layers), got {features!r}"
        )
    return pools[int(number) - 1].output


class ConcatenatedEncoder:
    """Several encoders side by side: each one's features whitened, made unit length, joined.

    Two encoders that err on different images (a conv map that sees local shapes, a dense code
    that sees the whole silhouette) make a better description together than either alone.
    Each part is whitened on its own (:class:`~aesearch_utils.search.whitening.Whitening`,
    fitted on the gallery) and scaled to unit length, so that neither dominates the cosine
    similarity.

    Args:
        parts: ``(encoder, whitening)`` pairs; fit the whitenings with :meth:`fit`
            (or pass fitted ones).
    """

    def __init__(self, parts: list[tuple[Encoder, Whitening]], name: str | None = None) -> None:
        if len(parts) < 2:
            raise InvalidInputError("a concatenation needs at least two encoders")
        self.parts = parts
        self.name = name or " + ".join(encoder.name for encoder, _ in self.parts)

    @property
    def output_dim(self) -> int:
        return sum(whitening.output_dim for _, whitening in self.parts)

    def fit(self, gallery_images: np.ndarray) -> ConcatenatedEncoder:
        """Fit each part's whitening on the gallery's features (never on the queries)."""
        for encoder, whitening in self.parts:
            whitening.fit(encode_images(encoder, gallery_images))
        return self

    def encode(self, images: np.ndarray) -> np.ndarray:
        return self.join(encoder.encode(images) for encoder, _ in self.parts)

    def join(self, part_features: Iterable[np.ndarray]) -> np.ndarray:
        """Each part's features (in the order of ``parts``) whitened, unit length, side by side."""
        return np.hstack(
            [
                unit_vectors(whitening.transform(features))
                for (_, whitening), features in zip(self.parts, part_features, strict=True)
            ]
        )

    def save_state(self, folder: Path, key: str) -> dict[str, Any]:
        parts = []
        for number, (encoder, whitening) in enumerate(self.parts):
            parts.append(
                {
                    "encoder": encoder.save_state(folder, f"{key}-{number}"),
                    "whitening": whitening.save_state(folder / f"{key}-{number}-whitening.npz"),
                }
            )
        return {"kind": "concatenated", "name": self.name, "parts": parts}


def load_encoder(state: dict[str, Any], folder: Path, key: str) -> Encoder:
    """The encoder a ``save_state(folder, key)`` call described as ``state``."""
    kind = state.get("kind")
    encoder: Any
    try:
        if kind == "pixels":
            encoder = PixelEncoder(tuple(state["image_shape"]))
        elif kind == "hog":
            encoder = HOGEncoder(tuple(state["image_shape"]))
        elif kind == "colour":
            encoder = ColourHistogramEncoder(state["bins"])
        elif kind == "pca":
            with np.load(folder / f"{key}.npz", allow_pickle=False) as stored:
                encoder = PCAEncoder.fitted(
                    state["components"], stored["mean"], stored["axes"], state["seed"]
                )
        elif kind == "layer":
            from aesearch_utils import models  # noqa: F401  (registers the custom layers)
            from aesearch_utils.backend import keras

            extractor = keras.saving.load_model(folder / f"{key}.keras", compile=False)
            encoder = LayerEncoder(
                extractor,
                state["name"],
                # pipelines saved before the levels, root and unit modifiers have none
                stretch_levels=state.get("stretch_levels", False),
                flip_average=state["flip_average"],
                square_root=state.get("square_root", False),
                unit_length=state.get("unit_length", False),
            )
        elif kind == "concatenated":
            encoder = ConcatenatedEncoder(
                [
                    (
                        load_encoder(part["encoder"], folder, f"{key}-{number}"),
                        Whitening.load_state(
                            folder / f"{key}-{number}-whitening.npz", **part["whitening"]
                        ),
                    )
                    for number, part in enumerate(state["parts"])
                ]
            )
        else:
            raise UnknownNameError(
                "encoder kind", kind, ("pixels", "hog", "colour", "pca", "layer", "concatenated")
            )
    except AesearchError:
        raise
    except (OSError, KeyError, ValueError) as error:  # a missing or truncated file, bad JSON
        raise CorruptDataError(f"{folder}: cannot reopen encoder {key!r} ({error})") from None
    encoder.name = state["name"]
    return encoder
