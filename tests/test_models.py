import numpy as np
import pytest

from aesearch_utils.backend import keras
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.models import build_autoencoder, model_names, register, registry

FEATURE_MAP_MODELS = {"conv_upsampling", "conv_transpose", "conv_bn"}
COLOUR_ONLY_MODELS = {"conv_deep"}  # halve the image four times: 32x32 fits, 28x28 does not


def valid_latent(name, shape):
    cells = (shape[0] // 4) * (shape[1] // 4)
    return 2 * cells if name in FEATURE_MAP_MODELS else 16


def test_the_issue_s_six_models_are_registered():
    assert set(model_names()) >= {
        "dense", "conv_upsampling", "conv_transpose", "conv_fc_upsampling",
        "conv_fc_transpose", "conv_bn",
    }  # fmt: skip


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)], ids=["mnist", "cifar"])
@pytest.mark.parametrize("name", model_names())
def test_every_model_builds_and_round_trips_the_shape(name, shape):
    latent = valid_latent(name, shape)
    if name in COLOUR_ONLY_MODELS and shape[0] % 16:
        with pytest.raises(InvalidInputError, match="multiples of 16; got 28x28"):
            build_autoencoder(name, shape, latent)
        return
    model = build_autoencoder(name, shape, latent)
    images = np.random.default_rng(0).random((3, *shape)).astype("float32")
    codes = model.encoder.predict(images, verbose=0)
    output = model.autoencoder.predict(images, verbose=0)
    assert codes.shape == (3, latent) and model.latent_dim == latent
    assert output.shape == (3, *shape) and output.min() >= 0 and output.max() <= 1
    assert model.input_shape == shape and model.count_params() > 0


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"unknown autoencoder 'cnn'; known") as caught:
        build_autoencoder("cnn", (28, 28, 1), 32)
    assert all(name in str(caught.value) for name in model_names())


def test_feature_map_latent_must_fit_the_map():
    with pytest.raises(InvalidInputError, match=r"7x7xC feature map.*multiple of 49.*got 32"):
        build_autoencoder("conv_upsampling", (28, 28, 1), 32)


def test_the_deep_model_shrinks_the_image_unlike_the_report_s():
    model = build_autoencoder("conv_deep", (32, 32, 3), 10)
    flatten = next(
        layer for layer in model.encoder.layers if isinstance(layer, keras.layers.Flatten)
    )
    assert flatten.output.shape[1:] == (2 * 2 * 256,)  # the report flattened 32 * 32 * 256
    assert model.encoder.count_params() < 400_000  # the report's encoder: 3,009,866


def test_images_that_cannot_be_halved_twice():
    with pytest.raises(InvalidInputError, match=r"multiples of 4; got 30x30"):
        build_autoencoder("conv_fc_transpose", (30, 30, 1), 16)


@pytest.mark.parametrize(
    ("shape", "latent", "message"),
    [((28, 28), 32, "input_shape must be"), ((28, 28, 1), 0, "latent_dim must be a positive")],
)
def test_bad_shapes_and_sizes(shape, latent, message):
    with pytest.raises(InvalidInputError, match=message):
        build_autoencoder("dense", shape, latent)


def test_an_unknown_option_is_a_clear_error():
    with pytest.raises(InvalidInputError, match=r"dense: .*unexpected keyword argument 'filters'"):
        build_autoencoder("dense", (28, 28, 1), 32, filters=8)


def test_a_new_variant_is_one_registered_builder(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))

    @register("tiny")
    def build_tiny(input_shape, latent_dim):
        images = keras.Input(input_shape)
        code = keras.layers.Dense(latent_dim)(keras.layers.Flatten()(images))
        latent = keras.Input((latent_dim,))
        pixels = keras.layers.Dense(int(np.prod(input_shape)), activation="sigmoid")(latent)
        decoder = keras.Model(latent, keras.layers.Reshape(input_shape)(pixels), name="decoder")
        return keras.Model(images, code, name="encoder"), decoder

    assert build_autoencoder("tiny", (4, 4, 1), 3).latent_dim == 3
    with pytest.raises(ValueError, match=r"already registered.*replace=True"):
        register("tiny")(build_tiny)
    # a notebook cell that defines a builder runs again after an edit...
    assert register("tiny", replace=True)(build_tiny) is build_tiny
    # ...but the package's own models keep their builders: a changed copy needs its own name
    with pytest.raises(ValueError, match="choose another name"):
        register("dense", replace=True)(build_tiny)


def test_a_vae_samples_while_training_and_returns_the_mean_otherwise():
    from aesearch_utils.models.variational import GaussianSample

    layer = GaussianSample(kl_weight=1.0, seed=0)
    z_mean = np.full((4, 3), 0.5, dtype="float32")
    z_log_var = np.zeros((4, 3), dtype="float32")
    np.testing.assert_array_equal(layer([z_mean, z_log_var], training=False), z_mean)
    assert not np.allclose(layer([z_mean, z_log_var], training=True), z_mean)
    # KL(N(0.5, 1) || N(0, 1)) = 0.5 * 0.25 per dimension, three dimensions
    assert float(layer.losses[-1]) == pytest.approx(3 * 0.125)


def test_attention_patches_are_cut_and_reassembled_in_place():
    from aesearch_utils.models.attention import from_patches, to_patches

    images = keras.Input(shape=(8, 12, 2))
    tokens = to_patches(images, 4, (2, 3), 2)
    round_trip = keras.Model(images, [tokens, from_patches(tokens, 4, (2, 3), 2)])
    batch = np.random.default_rng(0).random((2, 8, 12, 2)).astype("float32")
    patches, restored = round_trip.predict(batch, verbose=0)
    np.testing.assert_array_equal(restored, batch)
    # token 4 is row 1, column 1: pixels 4..7 down and 4..7 across
    np.testing.assert_array_equal(patches[:, 4], batch[:, 4:8, 4:8].reshape(2, -1))
    with pytest.raises(InvalidInputError, match="none divides 30x30"):
        build_autoencoder("attention", (30, 30, 1), 16)
    with pytest.raises(InvalidInputError, match="multiples of 8; got 28x28"):
        build_autoencoder("attention", (28, 28, 1), 16, patch=8)
