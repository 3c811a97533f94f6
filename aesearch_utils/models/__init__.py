"""Autoencoder builders, all reachable through :func:`build_autoencoder`.

Importing this package registers every builder; a new variant is one
function decorated with ``@register("name")`` returning ``(encoder, decoder)``.
"""

from aesearch_utils.models import (  # noqa: F401  (importing registers the builders)
    attention,
    convolutional,
    deep,
    dense,
    hybrid,
    variational,
)
from aesearch_utils.models.registry import (
    Autoencoder,
    build_autoencoder,
    model_names,
    register,
)

__all__ = ["Autoencoder", "build_autoencoder", "model_names", "register"]
