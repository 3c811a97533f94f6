import numpy as np
import pytest

from aesearch_utils.data import NOISE_KINDS, add_noise
from aesearch_utils.errors import InvalidInputError, UnknownNameError

IMAGES = np.random.default_rng(0).random((50, 16, 16, 3)).astype(np.float32)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_keeps_shape_dtype_range_and_input(kind):
    before = IMAGES.copy()
    noisy = add_noise(IMAGES, kind, 0.3, seed=1)
    assert noisy.shape == IMAGES.shape and noisy.dtype == np.float32
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert not np.array_equal(noisy, IMAGES)
    np.testing.assert_array_equal(IMAGES, before)
    np.testing.assert_array_equal(noisy, add_noise(IMAGES, kind, 0.3, seed=1))
    np.testing.assert_array_equal(add_noise(IMAGES, kind, 0.0), IMAGES)


def test_masking_zeroes_about_the_requested_share_of_pixels():
    noisy = add_noise(np.ones((200, 10, 10, 1), np.float32), "masking", 0.25, seed=2)
    assert abs((noisy == 0).mean() - 0.25) < 0.01


def test_patch_masking_hides_whole_squares_of_the_grid():
    noisy = add_noise(np.ones((300, 10, 10, 3), np.float32), "patch_masking", 0.5, seed=1)
    # 10 px is a 3 x 3 grid of 4-pixel squares, the last row and column cut to 2 px
    squares = noisy[:, ::4, ::4, 0]
    expanded = squares.repeat(4, axis=1).repeat(4, axis=2)[:, :10, :10]
    np.testing.assert_array_equal(noisy[..., 0], expanded)
    np.testing.assert_array_equal(noisy[..., 0], noisy[..., 2])
    assert 0.45 < 1 - squares.mean() < 0.55


def test_salt_and_pepper_sets_whole_pixels_to_black_or_white():
    noisy = add_noise(np.full((200, 10, 10, 3), 0.5, np.float32), "salt_and_pepper", 0.2, seed=3)
    hit = np.any(noisy != 0.5, axis=-1)
    assert abs(hit.mean() - 0.2) < 0.01
    assert set(np.unique(noisy[hit])) == {0.0, 1.0}
    assert np.all(noisy[hit].min(axis=-1) == noisy[hit].max(axis=-1))


def test_gaussian_noise_has_the_requested_spread():
    noisy = add_noise(np.full((100, 20, 20, 1), 0.5, np.float32), "gaussian", 0.1, seed=4)
    assert abs(float(noisy.std()) - 0.1) < 0.005


def test_bad_noise_arguments():
    with pytest.raises(UnknownNameError, match=r"unknown noise kind 'speckle'.*gaussian"):
        add_noise(IMAGES, "speckle", 0.1)
    with pytest.raises(InvalidInputError, match="scale them first with to_float32"):
        add_noise((IMAGES * 255).astype(np.uint8), "gaussian", 0.1)
    with pytest.raises(InvalidInputError, match=r"masking noise level must be in \[0, 1"):
        add_noise(IMAGES, "masking", 1.5)
    with pytest.raises(InvalidInputError, match="gaussian noise level"):
        add_noise(IMAGES, "gaussian", -0.1)
