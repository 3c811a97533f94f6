"""The deep convolutional autoencoder of the CIFAR-10 report, with its encoder repaired.

The report stacked ``Conv2DTranspose(strides=2)`` (which *doubles* the image)
and ``MaxPooling2D`` (which halves it again), so its encoder never shrank the
image: it flattened a 32x32x256 map (262,144 numbers) into the latent layer,
three million weights for a 10-number code. Here each of the four blocks is a
convolution followed by a pooling, so the image shrinks 32 -> 16 -> 8 -> 4 -> 2
while the filters grow, as the report intended; the decoder is the report's,
transposed convolutions from a 2x2 map back to the full image.
"""

from __future__ import annotations

from collections.abc import Sequence

from aesearch_utils.backend import keras
from aesearch_utils.models.convolutional import to_image
from aesearch_utils.models.registry import pooled_grid, register

layers = keras.layers


@register("conv_deep")
def build_conv_deep_autoencoder(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    filters: Sequence[int] = (32, 64, 128, 256),
) -> tuple[keras.Model, keras.Model]:
    """Four conv + pool blocks, a dense latent; dense, then four transposed convolutions.

    The image's height and width must be multiples of ``2 ** len(filters)``
    (16 with the default filters: CIFAR's 32x32 fits, MNIST's 28x28 does not).
    """
    grid = pooled_grid(input_shape, len(filters), "conv_deep")
    images = keras.Input(shape=input_shape, name="image")
    x = images
    for count in filters:
        x = layers.Conv2D(count, 3, padding="same", activation="elu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    encoder = keras.Model(images, layers.Dense(latent_dim, name="latent")(x), name="encoder")

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Dense(grid[0] * grid[1] * filters[-1], activation="elu")(code)
    y = layers.Reshape((*grid, filters[-1]))(y)
    for count in reversed(filters[:-1]):
        y = layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="elu")(y)
    y = layers.Conv2DTranspose(filters[0], 3, strides=2, padding="same", activation="elu")(y)
    decoder = keras.Model(code, to_image(y, input_shape[-1]), name="decoder")
    return encoder, decoder
