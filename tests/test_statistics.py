import numpy as np

from aesearch_utils.data import channel_mean_std, class_counts, pixel_histogram


def test_mean_and_std_from_counts_match_numpy():
    images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    mean, std = channel_mean_std(images)
    scaled = images.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(std, scaled.std(axis=0), rtol=1e-10)


def test_histogram_and_class_counts():
    images = np.array([0, 0, 255, 7], dtype=np.uint8).reshape(1, 2, 2, 1)
    histogram = pixel_histogram(images)
    assert histogram.shape == (1, 256) and histogram[0, 0] == 2 and histogram[0, 255] == 1
    assert class_counts(np.array([1, 1, 3]), 5).tolist() == [0, 2, 0, 1, 0]
