"""The course's training recipe per model: latent size, epochs, loss.

One recipe per (model, image shape), used by every notebook that needs the
model and by the registered search pipelines, so each model is trained once
and then loaded from the cache (:mod:`aesearch_utils.training.loop`).
"""

from __future__ import annotations

import dataclasses

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models import build_autoencoder, model_names
from aesearch_utils.seeding import DEFAULT_SEED
from aesearch_utils.training.loop import TrainedAutoencoder, TrainingConfig, train_autoencoder

FEATURE_MAP_MODELS = ("conv_upsampling", "conv_transpose", "conv_bn")
"""Models whose latent is the ``H/4 x W/4 x C`` feature map: the latent is 4 channels of it."""

LATENT_DIMS = {"conv_deep": 256}
"""Flat latent sizes that differ from the default of 32."""

EPOCHS = {"dense": 20, "vae_dense": 20}
"""Epoch budgets (at most: early stopping may end sooner) that differ from the default of 6."""

AUGMENTED = "_augmented"
"""A recipe named ``<model>_augmented`` fine-tunes ``<model>``'s trained model (its own recipe's)
to reconstruct each clean image from a randomly changed one (``TrainingConfig.augment``)."""
AUGMENTED_MODELS = ("dense", "conv_fc_transpose", "conv_deep")
"""The models of the registered search pipelines, which get an augmented recipe too."""
AUGMENTED_EPOCHS = 4
"""Fine-tuning epochs of an augmented recipe: the fewest whose validation precision@10 is
within 0.005 of training from scratch for 10 epochs, on every dataset
(``benchmarks/fine_tuning.py``, ``results/fine_tuning.json``). The plain model is trained
for the course anyway, so fine-tuning saves the augmented recipe's first epochs."""

LOSSES = {"vae_dense": "binary_crossentropy", "vae_conv": "binary_crossentropy",
          "vae_gru": "binary_crossentropy"}  # fmt: skip
"""Reconstruction losses that differ from MSE: a VAE's pixels are Bernoulli, as in the seeds."""


def benchmark_config(
    model_name: str,
    image_shape: tuple[int, int, int],
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
) -> TrainingConfig:
    """The training recipe ``model_name`` (a registered model, or one of
    :func:`recipe_names`' augmented recipes) on images of ``image_shape``.

    ``epochs`` overrides the model's budget (the smoke profile trains briefly).
    """
    if model_name.endswith(AUGMENTED) and model_name in recipe_names():
        start = benchmark_config(model_name.removesuffix(AUGMENTED), image_shape, epochs, seed)
        budget = AUGMENTED_EPOCHS if epochs is None else epochs
        return dataclasses.replace(start, epochs=budget, augment=True, start_from=start)
    if model_name in FEATURE_MAP_MODELS:
        latent_dim = (image_shape[0] // 4) * (image_shape[1] // 4) * 4
    else:
        latent_dim = LATENT_DIMS.get(model_name, 32)
    return TrainingConfig(
        model_name,
        latent_dim,
        epochs=epochs if epochs is not None else EPOCHS.get(model_name, 6),
        loss=LOSSES.get(model_name, "mse"),
        seed=seed,
    )


def recipe_names() -> tuple[str, ...]:
    """Every name :func:`train_model` takes: the registered models and their augmented
    recipes."""
    return (*model_names(), *(f"{model}{AUGMENTED}" for model in AUGMENTED_MODELS))


def fits(config: TrainingConfig, image_shape: tuple[int, int, int]) -> bool:
    """Whether the model can be built for these images (e.g. ``conv_deep`` needs 32x32)."""
    try:
        build_autoencoder(config.model, image_shape, config.latent_dim, **config.options)
    except InvalidInputError:
        return False
    return True


def train_model(
    model_name: str, data: Dataset, epochs: int | None = None, seed: int = DEFAULT_SEED
) -> TrainedAutoencoder:
    """A registered model, with its recipe, trained on ``data``'s training split (or loaded
    from the cache).

    Training holds out the validation images that
    :func:`~aesearch_utils.course.ablation.validation_split` gives for the same ``seed``.
    """
    config = benchmark_config(model_name, data.image_shape, epochs, seed)
    return train_autoencoder(config, data.x_train, data.y_train, dataset=data.name)
