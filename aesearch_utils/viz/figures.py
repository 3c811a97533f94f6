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
from aesearch_utils.search.array_cache import cached_statistics

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


def plot_history(history: dict[str, list[float]], title: str = "") -> Figure:
    """Training and validation loss per epoch (log scale)."""
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name, values in history.items():
        axis.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return figure


def plot_image_rows(rows: dict[str, np.ndarray], cell_size: float = 1.2) -> Figure:
    """Rows of images with a label each, e.g. ``{"original": x, "reconstruction": y}``."""
    columns = max(len(images) for images in rows.values())
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(columns * cell_size, len(rows) * cell_size), squeeze=False
    )
    for axes_row, (label, images) in zip(axes, rows.items(), strict=True):
        for index, axis in enumerate(axes_row):
            axis.set_xticks([])
            axis.set_yticks([])
            if index < len(images):
                _show(axis, images[index])
            else:
                axis.axis("off")
        axes_row[0].set_ylabel(label, fontsize=9)
    figure.tight_layout()
    return figure


def plot_retrievals(
    queries: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    neighbours: np.ndarray,
    class_names: Sequence[str],
    cell_size: float = 1.1,
) -> Figure:
    """One row per query: the query, then its nearest gallery images in order.

    A result's title is green when its class matches the query's, red otherwise.
    """
    rows, k = neighbours.shape
    figure, axes = plt.subplots(
        rows, k + 1, figsize=((k + 1) * cell_size, rows * (cell_size + 0.2)), squeeze=False
    )
    for row in range(rows):
        _show(axes[row, 0], queries[row])
        axes[row, 0].set_title(f"query: {class_names[query_labels[row]]}", fontsize=7)
        for rank, index in enumerate(neighbours[row], start=1):
            axis = axes[row, rank]
            _show(axis, gallery[index])
            match = gallery_labels[index] == query_labels[row]
            axis.set_title(
                f"{rank}. {class_names[gallery_labels[index]]}",
                fontsize=7,
                color="tab:green" if match else "tab:red",
            )
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


def plot_curves(
    x: Sequence[float], curves: dict[str, Sequence[float]], xlabel: str, ylabel: str
) -> Figure:
    """Several named curves over the same x values."""
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for label, values in curves.items():
        axis.plot(x, values, marker="o", label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def umap_2d(vectors: np.ndarray, seed: int = 0, neighbours: int = 15) -> np.ndarray:
    """A 2-D UMAP embedding of ``vectors`` (seeded, so the same vectors give the same map).

    Many vectors' maps are kept in the :mod:`~aesearch_utils.search.array_cache`: fitting
    one is among the slowest steps of notebook 10, and a rerun draws the same map.
    """
    import umap  # imported here: loading numba takes seconds and most figures do not need it

    vectors = np.asarray(vectors, dtype=np.float32)

    def compute() -> tuple[np.ndarray]:
        reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1)
        return (reducer.fit_transform(vectors),)

    # the name holds every setting of the reducer: a changed setting is another map
    name = f"umap 2-D|neighbours={neighbours}|seed={seed}|umap {umap.__version__}"
    (points,) = cached_statistics(name, vectors, compute)
    return points


def plot_umap(
    vectors: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    seed: int = 0,
    title: str = "",
) -> Figure:
    """UMAP of latent vectors, one colour per class: do the classes form separate regions?"""
    points = umap_2d(vectors, seed)
    return plot_latent_scatter(points, labels, class_names, title or "UMAP of the latent space")


def plot_latent_scatter(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str = ""
) -> Figure:
    """Scatter of 2-D points (a 2-D latent, or a projection of one), coloured by class."""
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    colours = plt.get_cmap("tab10")
    for label, name in enumerate(class_names):
        chosen = labels == label
        axis.scatter(*points[chosen].T, s=3, alpha=0.6, color=colours(label % 10), label=name)
    axis.set_title(title)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    figure.tight_layout()
    return figure


def plot_latent_pairplot(
    vectors: np.ndarray, labels: np.ndarray, class_names: Sequence[str], dimensions: int = 10
) -> Figure:
    """Seaborn scatter-plot matrix of the first ``dimensions`` latent coordinates."""
    import pandas as pd
    import seaborn as sns

    columns = [f"z{index}" for index in range(min(dimensions, vectors.shape[1]))]
    frame = pd.DataFrame(vectors[:, : len(columns)], columns=columns)
    frame["class"] = [class_names[label] for label in labels]
    grid = sns.pairplot(
        frame, hue="class", hue_order=[n for n in class_names if n in set(frame["class"])],
        corner=True, height=1.1, plot_kws={"s": 12}, diag_kind="hist",
    )  # fmt: skip
    return grid.figure


def plot_retrieval_confusion(confusion: np.ndarray, class_names: Sequence[str], k: int) -> Figure:
    """Heatmap of :func:`~aesearch_utils.search.metrics.retrieval_confusion` (rows: queries)."""
    import seaborn as sns

    figure, axis = plt.subplots(figsize=(7.5, 6))
    sns.heatmap(
        confusion, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=axis,
        xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": 7},
    )  # fmt: skip
    axis.set_xlabel(f"class of a top-{k} result")
    axis.set_ylabel("class of the query")
    figure.tight_layout()
    return figure


def plot_decoded_plane(grid: np.ndarray, spread: float) -> Figure:
    """A 2-D code's decoded plane (:func:`aesearch_utils.viz.latent.plane_grid`) as one picture."""
    rows, columns, height, width, channels = grid.shape
    mosaic = grid.transpose(0, 2, 1, 3, 4).reshape(rows * height, columns * width, channels)
    figure, axis = plt.subplots(figsize=(7, 7))
    extent = (-spread, spread, -spread, spread)
    if channels == 1:
        axis.imshow(mosaic[..., 0], cmap="gray", vmin=0, vmax=1, extent=extent)
    else:
        axis.imshow(np.clip(mosaic, 0, 1), extent=extent)
    axis.set_xlabel("z0")
    axis.set_ylabel("z1")
    figure.tight_layout()
    return figure


def _show(axis, image: np.ndarray) -> None:
    maximum = 255 if image.dtype == np.uint8 else 1
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=maximum)
    else:
        axis.imshow(image if image.dtype == np.uint8 else np.clip(image, 0, 1))
