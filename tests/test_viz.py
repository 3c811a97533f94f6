import numpy as np

from aesearch_utils.data import Dataset
from aesearch_utils.search.array_cache import MIN_CACHED_ROWS
from aesearch_utils.viz.figures import (
    plot_class_distribution,
    plot_image_grid,
    plot_latent_pairplot,
    plot_pixel_histograms,
    plot_retrieval_confusion,
    save_figure,
    umap_2d,
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


def test_umap_is_seeded_and_keeps_clusters_apart():
    centres = np.repeat(np.eye(8, dtype=np.float32) * 10, 40, axis=0)
    vectors = centres + RNG.normal(0, 0.1, centres.shape).astype(np.float32)
    first, second = umap_2d(vectors, seed=3), umap_2d(vectors, seed=3)
    assert first.shape == (320, 2)
    np.testing.assert_array_equal(first, second)
    labels = np.repeat(np.arange(8), 40)
    means = np.array([first[labels == label].mean(axis=0) for label in range(8)])
    spread = max(first[labels == label].std(axis=0).max() for label in range(8))
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[~np.eye(8, dtype=bool)]
    assert gaps.min() > 2 * spread  # every cluster stays its own island


def test_pairplot_and_confusion_heatmap_have_one_panel_per_pair_and_cell():
    vectors = RNG.normal(size=(50, 12)).astype(np.float32)
    labels = np.arange(50) % 2
    figure = plot_latent_pairplot(vectors, labels, ("even", "odd"), dimensions=4)
    assert sum(axis.has_data() for axis in figure.axes) == 4 * 5 // 2  # a corner matrix
    heatmap = plot_retrieval_confusion(np.eye(2), ("even", "odd"), k=10)
    assert len(heatmap.axes[0].texts) == 4


def test_a_large_umap_is_kept_in_the_array_cache(tmp_path, monkeypatch):
    import umap

    monkeypatch.setenv("AESEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AESEARCH_ARRAY_CACHE", raising=False)
    fitted = []

    class CountingUMAP:
        def __init__(self, **settings):
            self.seed = settings["random_state"]

        def fit_transform(self, vectors):
            fitted.append(self.seed)
            return vectors[:, :2] + self.seed

    monkeypatch.setattr(umap, "UMAP", CountingUMAP)
    vectors = RNG.normal(size=(MIN_CACHED_ROWS, 3)).astype(np.float32)

    first, again, other_seed = umap_2d(vectors, 1), umap_2d(vectors, 1), umap_2d(vectors, 2)

    assert fitted == [1, 2]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(other_seed, vectors[:, :2] + 2)
