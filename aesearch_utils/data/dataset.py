"""The dataset object every loader returns, and the catalogue of known datasets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aesearch_utils.errors import CorruptDataError, UnknownNameError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test images with their labels.

    Images are ``uint8`` arrays of shape ``(N, H, W, C)``; labels are ``int64``
    arrays of shape ``(N,)``, or ``None`` for an unlabelled folder of images.
    A gallery without a test split has ``x_test`` of length 0.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    class_names: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"x_{split}")
            labels = getattr(self, f"y_{split}")
            where = f"{self.name} ({self.source or 'in memory'})"
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
                raise CorruptDataError(
                    f"{where}: {split} images must be a uint8 array of shape (N, H, W, C), "
                    f"got {_describe(images)}"
                )
            if labels is None:
                continue
            if labels.ndim != 1 or len(labels) != len(images):
                raise CorruptDataError(
                    f"{where}: {len(images)} {split} images but {_describe(labels)} labels; "
                    "each image needs exactly one label: check that the image and label "
                    "files belong together"
                )
            if (
                self.class_names
                and len(labels)
                and not (labels.min() >= 0 and labels.max() < len(self.class_names))
            ):
                raise CorruptDataError(
                    f"{where}: {split} labels range over {labels.min()}..{labels.max()}, "
                    f"but there are only {len(self.class_names)} classes"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise CorruptDataError(
                f"{self.name}: train images are {self.x_train.shape[1:]} but test images are "
                f"{self.x_test.shape[1:]}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one image."""
        height, width, channels = self.x_train.shape[1:]
        return height, width, channels

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_labelled(self) -> bool:
        return self.y_train is not None

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes})"
        )


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class DatasetSpec:
    """What we know about a named dataset before loading it."""

    name: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    folder_names: tuple[str, ...]
    """Sub-folders of the data directory that may hold its files (Keras' names first)."""
    keras_module: str
    """The ``keras.datasets`` module that downloads it."""
    sizes: tuple[int, int]
    """Images in the standard train and test splits."""
    file_formats: tuple[str, ...]
    """Formats looked for on disk, in order: idx, cifar_batches, npz, image_folder."""
    title: str = ""
    """What a person calls it (a page shows this before the name)."""


DIGITS = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            image_shape=(28, 28, 1),
            class_names=DIGITS,
            folder_names=("mnist",),
            keras_module="mnist",
            sizes=(60_000, 10_000),
            file_formats=("idx", "npz", "image_folder"),
            title="Handwritten digits (MNIST)",
        ),
        DatasetSpec(
            name="fashion_mnist",
            image_shape=(28, 28, 1),
            class_names=FASHION_CLASSES,
            folder_names=("fashion-mnist", "fashion_mnist"),
            keras_module="fashion_mnist",
            sizes=(60_000, 10_000),
            file_formats=("idx", "npz", "image_folder"),
            title="Clothes and shoes (Fashion-MNIST)",
        ),
        DatasetSpec(
            name="cifar10",
            image_shape=(32, 32, 3),
            class_names=CIFAR10_CLASSES,
            folder_names=("cifar10", "cifar-10"),
            keras_module="cifar10",
            sizes=(50_000, 10_000),
            file_formats=("cifar_batches", "npz", "image_folder"),
            title="Small photos in ten classes (CIFAR-10)",
        ),
    )
}


def dataset_spec(name: str) -> DatasetSpec:
    """The catalogue entry for ``name``; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError("dataset", name, DATASETS) from None
