"""The attention autoencoder the seed reports planned: a small transformer over image patches.

The image is cut into ``patch x patch`` squares; each becomes a token (a
linear projection plus a learned position embedding), and self-attention
lets every patch look at every other one. The encoder pools the tokens into
the latent vector; the decoder expands the latent back into one token per
patch, attends again, and projects each token to its patch's pixels.
"""

from __future__ import annotations

from aesearch_utils.backend import keras
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models.registry import register

layers = keras.layers


@keras.saving.register_keras_serializable(package="aesearch")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector per token position, so attention knows where a patch sits."""

    def build(self, input_shape) -> None:
        self.positions = self.add_weight(
            shape=tuple(input_shape[1:]), initializer="random_normal", name="positions"
        )

    def call(self, tokens):
        return tokens + self.positions


def transformer_block(tokens, width: int, heads: int):
    """Pre-norm self-attention and a two-layer MLP, each with a residual connection."""
    x = layers.LayerNormalization(epsilon=1e-6)(tokens)
    x = layers.MultiHeadAttention(heads, width // heads)(x, x)
    tokens = layers.Add()([tokens, x])
    x = layers.LayerNormalization(epsilon=1e-6)(tokens)
    x = layers.Dense(2 * width, activation="gelu")(x)
    x = layers.Dense(width)(x)
    return layers.Add()([tokens, x])


PATCH_SIZES = (8, 7, 4)
"""Tried in order when no patch size is given: 7 for 28x28 images, 8 for 32x32 (16 tokens)."""


def default_patch(input_shape: tuple[int, int, int]) -> int:
    height, width, _ = input_shape
    fitting = [size for size in PATCH_SIZES if height % size == 0 and width % size == 0]
    if not fitting:
        raise InvalidInputError(
            f"attention cuts the image into square patches of {PATCH_SIZES} pixels; none divides "
            f"{height}x{width}: resize the images or pass patch=... that divides both sides"
        )
    return fitting[0]


def patch_grid(input_shape: tuple[int, int, int], patch: int) -> tuple[int, int]:
    height, width, _ = input_shape
    if height % patch or width % patch:
        raise InvalidInputError(
            f"attention cuts the image into {patch}x{patch} patches, so height and width must be "
            f"multiples of {patch}; got {height}x{width} (pass patch=... that divides both)"
        )
    return height // patch, width // patch


def to_patches(images, patch: int, grid: tuple[int, int], channels: int):
    """``(N, H, W, C)`` -> ``(N, patches, patch * patch * C)``, patches in reading order."""
    x = layers.Reshape((grid[0], patch, grid[1], patch, channels))(images)
    x = layers.Permute((1, 3, 2, 4, 5))(x)  # (rows, columns, patch, patch, channels)
    return layers.Reshape((grid[0] * grid[1], patch * patch * channels))(x)


def from_patches(tokens, patch: int, grid: tuple[int, int], channels: int):
    """The inverse of :func:`to_patches`."""
    y = layers.Reshape((grid[0], grid[1], patch, patch, channels))(tokens)
    y = layers.Permute((1, 3, 2, 4, 5))(y)  # (rows, patch, columns, patch, channels)
    return layers.Reshape((grid[0] * patch, grid[1] * patch, channels))(y)


@register("attention")
def build_attention_autoencoder(
    input_shape: tuple[int, int, int],
    latent_dim: int,
    patch: int | None = None,
    width: int = 64,
    heads: int = 4,
    depth: int = 2,
) -> tuple[keras.Model, keras.Model]:
    """Patch tokens -> ``depth`` transformer blocks -> mean-pooled dense latent, and back."""
    patch = patch or default_patch(input_shape)
    grid = patch_grid(input_shape, patch)
    channels = input_shape[-1]
    tokens_count, patch_values = grid[0] * grid[1], patch * patch * channels

    images = keras.Input(shape=input_shape, name="image")
    x = to_patches(images, patch, grid, channels)
    x = PositionEmbedding()(layers.Dense(width)(x))
    for _ in range(depth):
        x = transformer_block(x, width, heads)
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(epsilon=1e-6)(x))
    encoder = keras.Model(images, layers.Dense(latent_dim, name="latent")(x), name="encoder")

    code = keras.Input(shape=(latent_dim,), name="latent")
    y = layers.Dense(tokens_count * width)(code)
    y = PositionEmbedding()(layers.Reshape((tokens_count, width))(y))
    for _ in range(depth):
        y = transformer_block(y, width, heads)
    y = layers.Dense(patch_values, activation="sigmoid")(layers.LayerNormalization()(y))
    decoder = keras.Model(code, from_patches(y, patch, grid, channels), name="decoder")
    return encoder, decoder
