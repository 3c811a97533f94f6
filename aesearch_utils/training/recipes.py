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

OBJECTIVES = {
    "_invariant": {"reconstruct_from": "clean"},
    "_augmented_invariant": {"reconstruct_from": "views"},
    "_vicreg": {"reconstruction_weight": 0.0},
}
"""Recipes that add VICReg's invariance term (:mod:`aesearch_utils.training.invariance`) to a
model of :data:`AUGMENTED_MODELS`: ``<model>_invariant`` reconstructs each clean image from
itself, ``<model>_augmented_invariant`` from each of its two changed views (the denoising twin),
and ``<model>_vicreg`` learns from the invariance term alone (the reference that is not an
autoencoder). Each trains from scratch for :data:`OBJECTIVE_BUDGET_S`, whatever its epochs."""
INVARIANCE_WEIGHT = 1.0
"""The invariance term's weight beside a pixel error (see ``TwoViewAutoencoder``): the one of
0.1, 1 and 10 whose ``conv_fc_transpose_invariant`` had the best validation pipeline on
Fashion-MNIST (``benchmarks/objectives.py``, ``results/objectives.json``)."""
OBJECTIVE_BUDGET_S = 150.0
"""Wall-clock training budget of every objective recipe on 2 cores, so that objectives are
compared at equal cost rather than equal epochs (a little below the plain recipes' own training
time on both MNISTs). The number of batches it buys depends on the machine; the model cache
keeps the model that was trained."""

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
    # the longest suffix first: "_augmented_invariant" also ends with "_invariant"
    suffixes = sorted(OBJECTIVES, key=len, reverse=True)
    objective = next((suffix for suffix in suffixes if model_name.endswith(suffix)), None)
    if objective is not None and model_name in recipe_names():
        start = benchmark_config(model_name.removesuffix(objective), image_shape, epochs, seed)
        return dataclasses.replace(
            start, epochs=100 if epochs is None else epochs, invariance_weight=INVARIANCE_WEIGHT,
            time_budget_s=OBJECTIVE_BUDGET_S, **OBJECTIVES[objective],
        )  # fmt: skip
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
    """Every name :func:`train_model` takes: the registered models, their augmented recipes and
    their objective recipes."""
    return (
        *model_names(),
        *(f"{model}{suffix}" for suffix in (AUGMENTED, *OBJECTIVES) for model in AUGMENTED_MODELS),
    )


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
