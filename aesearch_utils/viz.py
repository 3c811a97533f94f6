"""Figures shared by the notebooks, and saving them reproducibly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.statistics import class_counts, pixel_histogram
from aesearch_utils.io import write_atomically

RGB_COLOURS = ("tab:red", "tab:green", "tab:blue")


def save_figure(figure: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Save ``figure`` as a compact PNG, atomically and byte-for-byte reproducibly.

    The PNG metadata (which records the matplotlib version) is left out, so the
    same figure gives the same file.
    """
    return write_atomically(
        path,
        lambda temporary: figure.savefig(
            temporary, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None}
        ),
    )


def plot_image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    columns: int = 8,
    cell_size: float = 1.4,
    suptitle: str | None = None,
) -> Figure:
    """Show ``(N, H, W, C)`` images (uint8, or float in [0, 1]) in a grid with optional titles."""
    count = len(images)
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(columns * cell_size, rows * (cell_size + 0.25)), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        image = images[index]
        if image.shape[-1] == 1:
            axis.imshow(
                image[..., 0], cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else 1
            )
        else:
            axis.imshow(image if image.dtype == np.uint8 else np.clip(image, 0, 1))
        if titles is not None:
            axis.set_title(titles[index], fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure


def plot_class_distribution(datasets: Sequence[Dataset]) -> Figure:
    """One bar chart per dataset: training and test images per class."""
    figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        positions = np.arange(dataset.num_classes)
        for offset, split, colour in ((-0.2, "train", "tab:blue"), (0.2, "test", "tab:orange")):
            labels = getattr(dataset, f"y_{split}")
            counts = class_counts(labels, dataset.num_classes)
            axis.bar(positions + offset, counts, width=0.4, label=split, color=colour)
        axis.set_xticks(positions, dataset.class_names, rotation=45, ha="right", fontsize=8)
        axis.set_ylabel("images")
        axis.set_ylim(0, axis.get_ylim()[1] * 1.15)  # headroom for the legend
        axis.set_title(dataset.name)
        axis.legend(fontsize=8, ncol=2, loc="upper center")
    figure.tight_layout()
    return figure


def plot_pixel_histograms(datasets: Sequence[Dataset]) -> Figure:
    """Intensity histograms of each dataset's training images (log scale), per channel."""
    figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.5), squeeze=False)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        histogram = pixel_histogram(dataset.x_train)
        colours = RGB_COLOURS if len(histogram) == 3 else ("tab:gray",)
        names = ("red", "green", "blue") if len(histogram) == 3 else ("gray",)
        for counts, colour, name in zip(histogram, colours, names, strict=True):
            axis.step(np.arange(256) / 255, counts / counts.sum(), color=colour, label=name)
        axis.set_yscale("log")
        axis.set_xlabel("pixel intensity (scaled to [0, 1])")
        axis.set_ylabel("share of pixels")
        axis.set_title(dataset.name)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
