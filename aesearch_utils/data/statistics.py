"""Summary statistics of image datasets, computed exactly and cheaply from uint8 counts."""

from __future__ import annotations

import numpy as np


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class, for every class (zero where a class is absent)."""
    return np.bincount(labels, minlength=num_classes)


def pixel_histogram(images: np.ndarray) -> np.ndarray:
    """How many pixels take each intensity 0..255, per channel: shape ``(channels, 256)``.

    ``bincount`` over the uint8 values needs one pass and no float copy, so the
    whole training set is affordable.
    """
    channels = images.shape[-1]
    flat = images.reshape(-1, channels)
    return np.stack([np.bincount(flat[:, c], minlength=256) for c in range(channels)])


def channel_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of the pixels, scaled to [0, 1]."""
    histogram = pixel_histogram(images).astype(np.float64)
    values = np.arange(256) / 255.0
    total = histogram.sum(axis=1)
    mean = histogram @ values / total
    variance = histogram @ values**2 / total - mean**2
    return mean, np.sqrt(np.maximum(variance, 0.0))
