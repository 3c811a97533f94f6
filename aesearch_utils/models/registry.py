"""One registry of autoencoder builders: ``build_autoencoder(name, input_shape, latent_dim)``."""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aesearch_utils.backend import keras
from aesearch_utils.errors import InvalidInputError, UnknownNameError

Builder = Callable[..., tuple[keras.Model, keras.Model]]
"""``builder(input_shape, latent_dim, **options) -> (encoder, decoder)``."""

_BUILDERS: dict[str, Builder] = {}


@dataclass
class Autoencoder:
    """An encoder, a decoder, and the two joined into one trainable model.

    The encoder maps an image batch ``(N, H, W, C)`` to flat latent vectors
    ``(N, latent_dim)``: those vectors are what the search compares.
    """

    name: str
    encoder: keras.Model
    decoder: keras.Model
    autoencoder: keras.Model
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def latent_dim(self) -> int:
        return int(self.encoder.output.shape[-1])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        height, width, channels = self.encoder.input.shape[1:]
        return int(height), int(width), int(channels)

    def count_params(self) -> int:
        return int(self.autoencoder.count_params())


def register(name: str, *, replace: bool = False) -> Callable[[Builder], Builder]:
    """Decorator: make ``builder`` available as ``build_autoencoder(name, ...)``.

    ``replace=True`` lets a notebook cell that defines a builder run again after an edit. The
    package's own builders are never replaced: the search pipelines and the service rebuild
    their models by name, so a changed copy needs a name of its own.
    """

    def decorate(builder: Builder) -> Builder:
        if name in _BUILDERS and (not replace or _is_packaged(_BUILDERS[name])):
            raise ValueError(
                f"an autoencoder named {name!r} is already registered: choose another name"
                + ("" if _is_packaged(_BUILDERS[name]) else ", or pass replace=True")
            )
        _BUILDERS[name] = builder
        return builder

    return decorate


def _is_packaged(builder: Builder) -> bool:
    return builder.__module__.split(".", 1)[0] == __name__.split(".", 1)[0]


def builder_fingerprint(name: str) -> str | None:
    """A hash of the source of a builder defined outside the package (in a notebook), else None.

    The training cache keys a model by its name and options; a builder edited in a notebook keeps
    its name, so its source enters the key too, and an edit trains anew instead of loading the
    model of the previous version. The package's builders are versioned with the package.
    """
    builder = _BUILDERS.get(name)
    if builder is None or _is_packaged(builder):
        return None
    try:
        text = inspect.getsource(builder)
    except (OSError, TypeError):  # defined where no source is kept (exec of a string)
        code = builder.__code__
        text = repr((code.co_code, code.co_consts, code.co_names))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_names() -> tuple[str, ...]:
    """The registered autoencoder names, in registration order."""
    return tuple(_BUILDERS)


def join(name: str, encoder: keras.Model, decoder: keras.Model, **options: Any) -> Autoencoder:
    """Wrap ``encoder`` and ``decoder`` into one model named ``name``.

    The joined model nests both, so a saved ``.keras`` file restores them with
    ``get_layer("encoder")`` and ``get_layer("decoder")``.
    """
    images = keras.Input(shape=encoder.input.shape[1:], name="images")
    autoencoder = keras.Model(images, decoder(encoder(images)), name=name)
    return Autoencoder(name, encoder, decoder, autoencoder, dict(options))


def build_autoencoder(
    name: str, input_shape: tuple[int, ...], latent_dim: int, **options: Any
) -> Autoencoder:
    """Build the registered autoencoder ``name`` for images of ``input_shape`` (H, W, C).

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the names).
        InvalidInputError: the shape, latent size or options cannot be built.
    """
    if name not in _BUILDERS:
        raise UnknownNameError("autoencoder", name, _BUILDERS)
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(size, int) and size > 0 for size in shape):
        raise InvalidInputError(
            f"input_shape must be (height, width, channels) of positive ints, got {input_shape}"
        )
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise InvalidInputError(f"latent_dim must be a positive int, got {latent_dim!r}")
    try:
        encoder, decoder = _BUILDERS[name](shape, latent_dim, **options)
    except TypeError as error:  # an option the builder does not take
        raise InvalidInputError(f"{name}: {error}") from None
    if tuple(encoder.output.shape[1:]) != (latent_dim,):
        raise AssertionError(f"{name} encoder outputs {encoder.output.shape}, not a flat latent")
    return join(name, encoder, decoder, **options)


def pooled_grid(input_shape: tuple[int, int, int], poolings: int, name: str) -> tuple[int, int]:
    """The feature-map size after ``poolings`` 2x2 max-poolings; the input must divide evenly."""
    height, width, _ = input_shape
    factor = 2**poolings
    if height % factor or width % factor:
        raise InvalidInputError(
            f"{name} halves the image {poolings} times, so height and width must be multiples "
            f"of {factor}; got {height}x{width}: resize the images (e.g. image_size=(32, 32))"
        )
    return height // factor, width // factor


def flat_size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
