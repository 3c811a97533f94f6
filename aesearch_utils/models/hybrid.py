"""Hybrid autoencoders: convolutions for local structure, then fully connected layers.

The seeds' proposal: the FC bottleneck decouples the latent size from the
image size, and dropout before it regularises the code.
"""

from __future__ import annotations

from aesearch_utils.backend import keras
from aesearch_utils.models.convolutional import (
    conv_block,
    to_image,
    transpose_block,
    upsampling_block,
)
from aesearch_utils.models.registry import pooled_grid, register

layers = keras.layers


def _conv_fc(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: tuple[int, int],
    hidden_units: int,
    dropout: float,
    upsample,
    name: str,
) -> tuple[keras.Model, keras.Model]:
    grid = pooled_grid(input_shape, 2, name)
    images = keras.Input(shape=input_shape, name="image")
    x = conv_block(images, filters[0], batch_norm=False)
    x = conv_block(x, filters[1], batch_norm=False)
    x = layers.Flatten()(x)
    x = layers.Dense(hidden_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    encoder = keras.Model(images, layers.Dense(latent_dim, name="latent")(x), name="encoder")

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Dense(hidden_units, activation="relu")(code)
    y = layers.Dense(grid[0] * grid[1] * filters[1], activation="relu")(y)
    y = layers.Reshape((*grid, filters[1]))(y)
    y = upsample(y, filters[1])
    y = upsample(y, filters[0])
    decoder = keras.Model(code, to_image(y, input_shape[-1]), name="decoder")
    return encoder, decoder


@register("conv_fc_upsampling")
def build_conv_fc_upsampling_autoencoder(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: tuple[int, int] = (16, 32),
    hidden_units: int = 128,
    dropout: float = 0.2,
) -> tuple[keras.Model, keras.Model]:
    """Conv encoder + FC bottleneck with dropout; FC + UpSampling decoder."""
    return _conv_fc(
        input_shape, latent_dim, filters, hidden_units, dropout, upsampling_block,
        "conv_fc_upsampling",
    )  # fmt: skip


@register("conv_fc_transpose")
def build_conv_fc_transpose_autoencoder(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: tuple[int, int] = (16, 32),
    hidden_units: int = 128,
    dropout: float = 0.2,
) -> tuple[keras.Model, keras.Model]:
    """Conv encoder + FC bottleneck with dropout; FC + Conv2DTranspose decoder."""
    return _conv_fc(
        input_shape, latent_dim, filters, hidden_units, dropout, transpose_block,
        "conv_fc_transpose",
    )  # fmt: skip
