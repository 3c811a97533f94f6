"""Autoencoder builders, all reachable through :func:`build_autoencoder`.

Importing this package registers every builder; a new variant is one
function decorated with ``@register("name")`` returning ``(encoder, decoder)``.
"""

from aesearch_utils.models import convolutional, deep, dense, hybrid  # noqa: F401  (registers)
from aesearch_utils.models.registry import (
    Autoencoder,
    build_autoencoder,
    model_names,
    register,
)

__all__ = ["Autoencoder", "build_autoencoder", "model_names", "register"]
