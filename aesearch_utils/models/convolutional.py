"""Convolutional autoencoders whose latent is the (flattened) last feature map.

The encoder is the seeds' Conv -> MaxPool -> Conv -> MaxPool; the latent is
the final ``H/4 x W/4 x C`` map, so ``latent_dim`` must be a multiple of
``H/4 * W/4`` (196 = 7x7x4 for MNIST). Two decoders undo the pooling:
up-sampling followed by convolution, or learned transposed convolutions.
"""

from __future__ import annotations

from aesearch_utils.backend import keras
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models.registry import pooled_grid, register

layers = keras.layers


def conv_block(x, filters: int, batch_norm: bool):
    """3x3 convolution, optional batch normalisation, ReLU, 2x2 max-pooling."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return layers.MaxPooling2D(2)(x)


def upsampling_block(x, filters: int):
    """Double the resolution by repetition, then let a convolution smooth it."""
    x = layers.UpSampling2D(2)(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def transpose_block(x, filters: int):
    """Double the resolution with a learned, strided transposed convolution."""
    return layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x)


def to_image(x, channels: int):
    """The last layer: one value in [0, 1] per pixel and channel."""
    return layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="pixels")(x)


def _feature_map_latent(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: int,
    batch_norm: bool,
    upsample,
    name: str,
) -> tuple[keras.Model, keras.Model]:
    grid = pooled_grid(input_shape, 2, name)
    cells = grid[0] * grid[1]
    if latent_dim % cells:
        raise InvalidInputError(
            f"{name}'s latent is a {grid[0]}x{grid[1]}xC feature map, so latent_dim must be a "
            f"multiple of {cells} (e.g. {cells * 4}); got {latent_dim}. For other sizes use "
            "conv_fc_upsampling or conv_fc_transpose"
        )
    code_channels = latent_dim // cells

    images = keras.Input(shape=input_shape, name="image")
    x = conv_block(images, filters, batch_norm)
    x = conv_block(x, code_channels, batch_norm)
    encoder = keras.Model(images, layers.Flatten(name="latent")(x), name="encoder")

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Reshape((*grid, code_channels))(code)
    y = upsample(y, code_channels)
    y = upsample(y, filters)
    decoder = keras.Model(code, to_image(y, input_shape[-1]), name="decoder")
    return encoder, decoder


@register("conv_upsampling")
def build_conv_upsampling_autoencoder(
    input_shape: tuple[int, int, int], latent_dim: int, filters: int = 16
) -> tuple[keras.Model, keras.Model]:
    """Conv + MaxPool encoder; UpSampling + Conv decoder (the seeds' "fully convolutional")."""
    return _feature_map_latent(
        input_shape, latent_dim, filters, False, upsampling_block, "conv_upsampling"
    )


@register("conv_transpose")
def build_conv_transpose_autoencoder(
    input_shape: tuple[int, int, int], latent_dim: int, filters: int = 16
) -> tuple[keras.Model, keras.Model]:
    """Conv + MaxPool encoder; Conv2DTranspose decoder (the seeds' "deconvolution")."""
    return _feature_map_latent(
        input_shape, latent_dim, filters, False, transpose_block, "conv_transpose"
    )


@register("conv_bn")
def build_conv_bn_autoencoder(
    input_shape: tuple[int, int, int], latent_dim: int, filters: int = 16
) -> tuple[keras.Model, keras.Model]:
    """``conv_upsampling`` with batch normalisation after each encoder convolution.

    Normalising before the ReLU keeps every latent channel in use; without it a
    channel can end up always zero ("dead") after the ReLU.
    """
    return _feature_map_latent(input_shape, latent_dim, filters, True, upsampling_block, "conv_bn")
