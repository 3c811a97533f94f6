import numpy as np

from aesearch_utils.data import Dataset
from aesearch_utils.viz import (
    plot_class_distribution,
    plot_image_grid,
    plot_pixel_histograms,
    save_figure,
)

RNG = np.random.default_rng(0)
GRAY = Dataset(
    "gray",
    RNG.integers(0, 256, (20, 6, 6, 1), dtype=np.uint8),
    np.arange(20) % 2,
    RNG.integers(0, 256, (4, 6, 6, 1), dtype=np.uint8),
    np.arange(4) % 2,
    ("even", "odd"),
)


def test_the_same_figure_gives_the_same_png_bytes(tmp_path):
    first = save_figure(plot_image_grid(GRAY.x_train[:10], ["x"] * 10), tmp_path / "a.png")
    second = save_figure(plot_image_grid(GRAY.x_train[:10], ["x"] * 10), tmp_path / "b.png")
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()


def test_grid_layout_and_dataset_plots():
    figure = plot_image_grid(RNG.random((10, 4, 4, 3)), columns=4)
    assert len(figure.axes) == 12 and sum(axis.has_data() for axis in figure.axes) == 10
    assert len(plot_class_distribution([GRAY, GRAY]).axes) == 2
    assert len(plot_pixel_histograms([GRAY]).axes[0].lines) == 1
