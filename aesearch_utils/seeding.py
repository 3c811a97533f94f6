"""The one place where the global random seeds are set."""

from __future__ import annotations

DEFAULT_SEED = 0


def set_seed(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy and TensorFlow (hence Keras) for a reproducible run.

    :func:`keras.utils.set_random_seed` seeds all three of Python, NumPy and
    TensorFlow; on CPU it makes repeated training runs bit-identical. Data
    helpers do not read this global state: they take an explicit ``seed``.
    """
    from aesearch_utils.backend import keras

    keras.utils.set_random_seed(seed)
