import hashlib
import json

import numpy as np
import pytest

from aesearch_utils.backend import keras
from aesearch_utils.config import project_root
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models import registry
from aesearch_utils.training import TrainingConfig, benchmark_config, train_autoencoder
from aesearch_utils.training.loop import (
    MODEL_FORMAT_VERSION,
    OPTIONAL_FIELDS,
    PerturbedBatches,
    cache_key,
)
from aesearch_utils.training.recipes import AUGMENTED_EPOCHS, recipe_names

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (80, 8, 8, 1), dtype=np.uint8)
LABELS = np.arange(80) % 4
CONFIG = TrainingConfig("dense", 4, options={"hidden_units": (16,)}, epochs=2, batch_size=16)


def weights(trained):
    return [w.copy() for w in trained.model.autoencoder.get_weights()]


def test_training_records_history_and_saves_model_and_record(tmp_path):
    trained = train_autoencoder(CONFIG, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    assert not trained.from_cache and trained.epochs_run == 2
    assert set(trained.history) == {"loss", "val_loss"} and trained.seconds_per_epoch > 0
    assert trained.path.name.startswith("toy-dense-") and trained.path.is_file()
    assert trained.path.with_suffix(".json").is_file()


def test_the_same_parameters_load_the_cached_model(tmp_path):
    first = train_autoencoder(CONFIG, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    second = train_autoencoder(CONFIG, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    assert second.from_cache and second.history == first.history
    batch = IMAGES[:5].astype("float32") / 255
    np.testing.assert_array_equal(
        first.model.encoder.predict(batch, verbose=0),
        second.model.encoder.predict(batch, verbose=0),
    )


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": 3},
        {"seed": 1},
        {"noise": "masking", "noise_level": 0.2},
        {"latent_dim": 5},
        {"augment": True},
        {"invariance_weight": 1.0},
        {"start_from": TrainingConfig("dense", 4, options={"hidden_units": (16,)}, epochs=1)},
    ],
)
def test_a_changed_parameter_retrains(tmp_path, change):
    train_autoencoder(CONFIG, IMAGES, LABELS, cache_dir=tmp_path)
    changed = TrainingConfig(**{**CONFIG.__dict__, **change})
    retrained = train_autoencoder(changed, IMAGES, LABELS, cache_dir=tmp_path)
    assert not retrained.from_cache
    # fine-tuning trains (or loads) the model it starts from as well
    assert len(list(tmp_path.glob("*.keras"))) == 2 + ("start_from" in change)


def test_fine_tuning_starts_from_the_cached_model_and_counts_its_training_time(tmp_path):
    start = train_autoencoder(CONFIG, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    # a learning rate too small to move the weights: fine-tuning must begin where the start ended
    config = TrainingConfig(**{**CONFIG.__dict__, "epochs": 1, "learning_rate": 1e-12,
                               "start_from": CONFIG})  # fmt: skip
    tuned = train_autoencoder(config, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    for before, after in zip(weights(start), weights(tuned), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-6)
    assert len(list(tmp_path.glob("*.keras"))) == 2, "the start model is loaded, not retrained"
    own = tuned.seconds_per_epoch * tuned.epochs_run
    assert tuned.train_seconds == pytest.approx(own + start.train_seconds)
    again = train_autoencoder(config, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    assert again.from_cache and again.train_seconds == pytest.approx(tuned.train_seconds)


def test_fine_tuning_needs_the_same_model_and_code_size(tmp_path):
    other = TrainingConfig(**{**CONFIG.__dict__, "latent_dim": 5})
    config = TrainingConfig(**{**CONFIG.__dict__, "start_from": other})
    with pytest.raises(InvalidInputError, match="same model and code size"):
        train_autoencoder(config, IMAGES, LABELS, cache_dir=tmp_path)


def test_other_training_images_change_the_key():
    other = IMAGES.copy()
    other[0, 0, 0, 0] ^= 1
    assert cache_key(CONFIG, IMAGES) != cache_key(CONFIG, other)
    assert cache_key(CONFIG, IMAGES) != cache_key(CONFIG, IMAGES[:60])


def test_the_settings_added_later_keep_the_keys_of_models_cached_before_them():
    settings = dict(CONFIG.__dict__)
    for added in OPTIONAL_FIELDS:
        del settings[added]
    description = {
        "config": settings,
        "images": [list(IMAGES.shape), "uint8", hashlib.blake2b(IMAGES.data, digest_size=16)
                   .hexdigest()],
        "format": MODEL_FORMAT_VERSION,
        "keras": keras.__version__,
    }  # fmt: skip
    text = json.dumps(description, sort_keys=True, default=str)
    assert cache_key(CONFIG, IMAGES) == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_a_builder_edited_in_a_notebook_trains_anew(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))

    def build(input_shape, latent_dim, activation):
        images = keras.Input(input_shape)
        code = keras.layers.Dense(latent_dim, activation=activation)(keras.layers.Flatten()(images))
        latent = keras.Input((latent_dim,))
        pixels = keras.layers.Dense(int(np.prod(input_shape)), activation="sigmoid")(latent)
        decoder = keras.Model(latent, keras.layers.Reshape(input_shape)(pixels), name="decoder")
        return keras.Model(images, code, name="encoder"), decoder

    @registry.register("edited", replace=True)
    def first_version(input_shape, latent_dim):
        return build(input_shape, latent_dim, "relu")

    config = TrainingConfig("edited", 4, epochs=1, batch_size=16)
    first = train_autoencoder(config, IMAGES, LABELS, cache_dir=tmp_path)
    assert train_autoencoder(config, IMAGES, LABELS, cache_dir=tmp_path).from_cache

    @registry.register("edited", replace=True)
    def second_version(input_shape, latent_dim):
        return build(input_shape, latent_dim, "tanh")

    second = train_autoencoder(config, IMAGES, LABELS, cache_dir=tmp_path)
    assert not second.from_cache and second.path != first.path
    assert registry.builder_fingerprint("dense") is None  # the package's keys stay as they were


def test_augmented_training_is_reproducible_and_its_batches_change_every_epoch():
    augmented = TrainingConfig(**{**CONFIG.__dict__, "augment": True})
    first = train_autoencoder(augmented, IMAGES, LABELS, use_cache=False)
    second = train_autoencoder(augmented, IMAGES, LABELS, use_cache=False)
    assert first.history == second.history and first.epochs_run == 2
    batches = PerturbedBatches(IMAGES / np.float32(255), 16, seed=0)
    changed, clean = batches[0]
    assert len(batches) == 5 and changed.shape == clean.shape == (16, 8, 8, 1)
    assert not np.array_equal(changed, clean)
    np.testing.assert_array_equal(batches[0][0], changed)  # the same batch, the same changes
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][1], clean)  # reshuffled


def test_a_corrupt_cached_model_is_retrained(tmp_path):
    trained = train_autoencoder(CONFIG, IMAGES, LABELS, cache_dir=tmp_path)
    trained.path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.warns(UserWarning, match="unreadable cached model"):
        again = train_autoencoder(CONFIG, IMAGES, LABELS, cache_dir=tmp_path)
    assert not again.from_cache
    assert train_autoencoder(CONFIG, IMAGES, LABELS, cache_dir=tmp_path).from_cache


def test_training_is_reproducible(tmp_path):
    first = train_autoencoder(CONFIG, IMAGES, LABELS, use_cache=False)
    second = train_autoencoder(CONFIG, IMAGES, LABELS, use_cache=False)
    assert first.history == second.history
    for a, b in zip(weights(first), weights(second), strict=True):
        np.testing.assert_array_equal(a, b)


def test_denoising_training_runs_and_training_needs_uint8_images(tmp_path):
    noisy = TrainingConfig(**{**CONFIG.__dict__, "noise": "gaussian", "noise_level": 0.3})
    assert train_autoencoder(noisy, IMAGES, LABELS, cache_dir=tmp_path).epochs_run == 2
    with pytest.raises(InvalidInputError, match="expects the uint8 training images"):
        train_autoencoder(CONFIG, IMAGES.astype("float32"), cache_dir=tmp_path)


def test_headless_training_prints_one_line_per_epoch(monkeypatch, capsys):
    monkeypatch.setenv("AESEARCH_HEADLESS", "1")
    train_autoencoder(CONFIG, IMAGES, LABELS, use_cache=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss ") and "val_loss" in lines[0]


def test_a_vae_logs_reconstruction_and_kl_apart_and_reloads_from_the_cache(tmp_path):
    config = TrainingConfig(
        "vae_dense", 2, options={"hidden_units": 16}, epochs=2, batch_size=16,
        loss="binary_crossentropy",
    )  # fmt: skip
    trained = train_autoencoder(config, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    history = trained.history
    assert {"reconstruction", "kl", "val_reconstruction", "val_kl"} <= set(history)
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction"], history["kl"]), rtol=1e-5
    )
    assert min(history["kl"]) > 0
    cached = train_autoencoder(config, IMAGES, LABELS, dataset="toy", cache_dir=tmp_path)
    batch = IMAGES[:5].astype("float32") / 255
    np.testing.assert_array_equal(  # the embedding is z_mean: deterministic
        cached.model.encoder.predict(batch, verbose=0),
        trained.model.encoder.predict(batch, verbose=0),
    )


def test_augmented_recipes_fine_tune_their_plain_model_on_changed_inputs():
    config = benchmark_config("conv_fc_transpose_augmented", (28, 28, 1))
    plain = benchmark_config("conv_fc_transpose", (28, 28, 1))
    assert (config.model, config.augment, config.epochs) == ("conv_fc_transpose", True, 4)
    assert config.start_from == plain and not plain.augment
    assert "conv_deep_augmented" in recipe_names() and "conv_bn_augmented" not in recipe_names()
    # the smoke profile's budget holds for both, so the plain model it starts from is the
    # one the smoke profile trains anyway
    brief = benchmark_config("dense_augmented", (28, 28, 1), epochs=1)
    assert brief.epochs == 1 and brief.start_from == benchmark_config("dense", (28, 28, 1), 1)


def test_the_fine_tuning_epochs_are_the_ones_the_benchmark_chose():
    recorded = json.loads((project_root() / "results" / "fine_tuning.json").read_text())
    assert recorded["chosen_epochs"] == AUGMENTED_EPOCHS
