"""Variational autoencoders: the encoder predicts a distribution, not a point.

Each encoder ends in two heads, ``z_mean`` and ``z_log_var``, joined by
:class:`GaussianSample`. While training, that layer draws ``z`` from the
predicted Gaussian and adds the KL divergence to the standard normal as a
layer loss (``add_loss`` inside ``call``, which works on Keras 3, unlike the
symbolic ``model.add_loss`` the seed reports used). Outside training it
returns ``z_mean``: the encoder's output, and so the search embedding, is the
mean. Training therefore needs no custom loop: the compiled reconstruction
loss plus the layer's KL term is the (scaled) negative ELBO, and
:mod:`aesearch_utils.training` logs the two parts separately.
"""

from __future__ import annotations

import math

from aesearch_utils.backend import keras
from aesearch_utils.models.convolutional import to_image
from aesearch_utils.models.registry import flat_size, pooled_grid, register

layers = keras.layers
ops = keras.ops


@keras.saving.register_keras_serializable(package="aesearch")
class GaussianSample(layers.Layer):
    """``(z_mean, z_log_var) -> z``: a reparameterised sample while training, the mean otherwise.

    Args:
        kl_weight: multiplies the KL divergence (summed over latent dimensions,
            averaged over the batch). Reconstruction losses here are means over
            pixels, so the builders pass ``beta / pixels`` to keep the usual
            balance of the ELBO, where reconstruction is summed over pixels.
        seed: seeds the noise, for reproducible training.
    """

    def __init__(self, kl_weight: float = 1.0, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kl_weight = kl_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training: bool = False):
        z_mean, z_log_var = inputs
        # added in evaluation too, so the validation loss is the same objective as training's
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        self.add_loss(self.kl_weight * ops.mean(kl))
        if not training:
            return z_mean
        noise = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed}


def variational_encoder(images, features, latent_dim: int, beta: float) -> keras.Model:
    """The encoder: the two heads on top of the body's ``features``, joined by a sample."""
    z_mean = layers.Dense(latent_dim, name="z_mean")(features)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(features)
    pixels = flat_size(tuple(images.shape[1:]))
    latent = GaussianSample(beta / pixels, name="latent")([z_mean, z_log_var])
    return keras.Model(images, latent, name="encoder")


@register("vae_dense")
def build_dense_vae(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    hidden_units: int = 512,
    beta: float = 1.0,
) -> tuple[keras.Model, keras.Model]:
    """The seed's VAE: pixels -> Dense 512 -> (z_mean, z_log_var) -> Dense 512 -> pixels."""
    images = keras.Input(shape=input_shape, name="image")
    x = layers.Dense(hidden_units, activation="relu")(layers.Flatten()(images))
    encoder = variational_encoder(images, x, latent_dim, beta)

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Dense(hidden_units, activation="relu")(code)
    y = layers.Dense(flat_size(input_shape), activation="sigmoid")(y)
    decoder = keras.Model(code, layers.Reshape(input_shape)(y), name="decoder")
    return encoder, decoder


@register("vae_conv")
def build_conv_vae(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: tuple[int, int] = (16, 32),
    hidden_units: int = 128,
    beta: float = 1.0,
) -> tuple[keras.Model, keras.Model]:
    """Strided convolutions down to ``H/4 x W/4``, a dense layer, the variational head;
    the decoder mirrors it with transposed convolutions."""
    grid = pooled_grid(input_shape, 2, "vae_conv")
    images = keras.Input(shape=input_shape, name="image")
    x = images
    for count in filters:
        x = layers.Conv2D(count, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Dense(hidden_units, activation="relu")(layers.Flatten()(x))
    encoder = variational_encoder(images, x, latent_dim, beta)

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Dense(math.prod(grid) * filters[-1], activation="relu")(code)
    y = layers.Reshape((*grid, filters[-1]))(y)
    for count in reversed(filters):
        y = layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu")(y)
    decoder = keras.Model(code, to_image(y, input_shape[-1]), name="decoder")
    return encoder, decoder


@register("vae_gru")
def build_gru_vae(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    units: int = 128,
    beta: float = 1.0,
) -> tuple[keras.Model, keras.Model]:
    """A recurrent VAE: the image is read row by row (rows are the time steps) by a GRU,
    and written back row by row by another GRU fed the code at every step."""
    height, width, channels = input_shape
    images = keras.Input(shape=input_shape, name="image")
    rows = layers.Reshape((height, width * channels))(images)
    x = layers.GRU(units)(rows)
    encoder = variational_encoder(images, x, latent_dim, beta)

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.RepeatVector(height)(code)
    y = layers.GRU(units, return_sequences=True)(y)
    y = layers.TimeDistributed(layers.Dense(width * channels, activation="sigmoid"))(y)
    decoder = keras.Model(code, layers.Reshape(input_shape)(y), name="decoder")
    return encoder, decoder
