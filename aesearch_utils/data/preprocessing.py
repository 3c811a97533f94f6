"""Preprocessing shared by every notebook: scaling, seeded subsets and splits."""

from __future__ import annotations

import numpy as np

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import InvalidInputError


def to_float32(images: np.ndarray) -> np.ndarray:
    """Scale ``uint8`` images (0..255) to ``float32`` in [0, 1]."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        got = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise InvalidInputError(
            f"to_float32 expects uint8 images (0..255), got {got}; images that are already "
            "float need no scaling"
        )
    return images.astype(np.float32) / np.float32(255)


def as_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 images scaled to [0, 1]; float images (already scaled, e.g. noisy) as float32."""
    if images.dtype == np.uint8:
        return to_float32(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise InvalidInputError(
            f"images must be uint8 (0..255) or float in [0, 1], got {images.dtype}"
        )
    return images.astype(np.float32, copy=False)


def stretch_levels(images: np.ndarray) -> np.ndarray:
    """Each image's levels stretched to [0, 1]: its darkest value to 0, its brightest to 1.

    A photographed or scanned upload comes darker, brighter or washed out; a gain and an
    offset (``a * x + b``, ``a > 0``) leave the stretched image as it was, so search sees
    through them. An image of one flat level has nothing to stretch and stays as it is.
    """
    images = as_float_images(images)
    pixels = images.reshape(len(images), -1)
    low, high = pixels.min(axis=1), pixels.max(axis=1)
    flat_level = high == low
    low[flat_level] = 0
    span = np.where(flat_level, 1, high - low)
    shape = (-1,) + (1,) * (images.ndim - 1)
    return (images - low.reshape(shape)) / span.reshape(shape)


def sample_indices(
    labels: np.ndarray | None, size: int, seed: int, population: int | None = None
) -> np.ndarray:
    """``size`` distinct indices drawn with a seed, stratified by ``labels`` when given.

    Stratification keeps each class's share of the sample equal to its share
    of the population (to within one image), so small subsets stay balanced.
    A sample (or remainder) with fewer items than there are classes cannot be
    stratified and is drawn plainly at random. The indices come back sorted,
    which keeps the original order of the data.
    """
    total = len(labels) if labels is not None else population
    if total is None:
        raise InvalidInputError("sample_indices needs labels or a population size")
    if not 0 < size <= total:
        raise InvalidInputError(f"cannot draw {size} items from {total}; choose 1..{total}")
    if size == total:
        return np.arange(total)
    classes = 0 if labels is None else len(np.unique(labels))
    if labels is None or min(size, total - size) < classes:
        return np.sort(np.random.default_rng(seed).choice(total, size=size, replace=False))
    # scikit-learn imports pandas: loaded only where a stratified split is drawn, so that
    # the search core, which needs this module's scaling, starts without it
    from sklearn.model_selection import StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit(n_splits=1, train_size=size, random_state=seed)
    chosen, _ = next(splitter.split(np.zeros(total), labels))
    return np.sort(chosen)


def subset(
    dataset: Dataset, train_size: int | None = None, test_size: int | None = None, seed: int = 0
) -> Dataset:
    """A smaller copy of ``dataset``: stratified, seeded samples of each split.

    ``None`` keeps a split whole.
    """
    splits = {}
    for split, size in (("train", train_size), ("test", test_size)):
        images, labels = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if size is None or size >= len(images):
            splits[split] = (images, labels)
            continue
        chosen = sample_indices(labels, size, seed, population=len(images))
        splits[split] = (images[chosen], None if labels is None else labels[chosen])
    return Dataset(
        name=dataset.name,
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        class_names=dataset.class_names,
        source=dataset.source,
    )


def train_validation_split(
    images: np.ndarray,
    labels: np.ndarray | None,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Split training data into ``(x_train, y_train, x_val, y_val)``, stratified and seeded.

    Model choices are made on the validation part; the test split stays untouched.
    """
    if not 0 < validation_fraction < 1:
        raise InvalidInputError(
            f"validation_fraction must be between 0 and 1 (exclusive), got {validation_fraction}"
        )
    validation_size = max(1, round(len(images) * validation_fraction))
    if validation_size >= len(images):
        raise InvalidInputError(
            f"{len(images)} images are too few to keep {validation_size} for validation"
        )
    validation = sample_indices(labels, validation_size, seed, population=len(images))
    keep = np.ones(len(images), dtype=bool)
    keep[validation] = False
    if labels is None:
        return images[keep], None, images[validation], None
    return images[keep], labels[keep], images[validation], labels[validation]
