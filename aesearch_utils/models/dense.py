"""The fully connected autoencoder: the seed reports' baseline."""

from __future__ import annotations

from collections.abc import Sequence

from aesearch_utils.backend import keras
from aesearch_utils.models.registry import flat_size, register

layers = keras.layers


@register("dense")
def build_dense_autoencoder(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    hidden_units: Sequence[int] = (256,),
) -> tuple[keras.Model, keras.Model]:
    """Flatten, fully connected layers down to a linear latent, and the mirror image back.

    Every pixel is connected to every unit: no notion of neighbouring pixels,
    which is what the convolutional variants add.
    """
    images = keras.Input(shape=input_shape, name="image")
    x = layers.Flatten()(images)
    for units in hidden_units:
        x = layers.Dense(units, activation="relu")(x)
    latent = layers.Dense(latent_dim, name="latent")(x)
    encoder = keras.Model(images, latent, name="encoder")

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = code
    for units in reversed(hidden_units):
        y = layers.Dense(units, activation="relu")(y)
    y = layers.Dense(flat_size(input_shape), activation="sigmoid")(y)
    decoder = keras.Model(code, layers.Reshape(input_shape)(y), name="decoder")
    return encoder, decoder
