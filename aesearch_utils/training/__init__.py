"""Training autoencoders: the seeded loop and its model cache, the recipes, evaluation.

Training imports Keras (and through it TensorFlow), which takes seconds; the
search core never imports this package at module level, so a program that
only searches a saved pipeline starts fast.
"""

from aesearch_utils.training.loop import (
    TrainedAutoencoder,
    TrainingConfig,
    models_dir,
    train_autoencoder,
)
from aesearch_utils.training.recipes import benchmark_config, fits, recipe_names, train_model

__all__ = [
    "TrainedAutoencoder",
    "TrainingConfig",
    "benchmark_config",
    "fits",
    "models_dir",
    "recipe_names",
    "train_autoencoder",
    "train_model",
]
