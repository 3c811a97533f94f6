import numpy as np
import pytest

from aesearch_utils.data import (
    Dataset,
    sample_indices,
    stretch_levels,
    subset,
    to_float32,
    train_validation_split,
)
from aesearch_utils.errors import InvalidInputError

LABELS = np.repeat(np.arange(4), [100, 200, 300, 400])


def test_to_float32_scales_to_unit_range():
    images = np.array([[[[0], [128], [255]]]], dtype=np.uint8)
    scaled = to_float32(images)
    assert scaled.dtype == np.float32 and scaled.shape == images.shape
    np.testing.assert_allclose(scaled.ravel(), [0.0, 128 / 255, 1.0])


def test_to_float32_refuses_float_input():
    with pytest.raises(InvalidInputError, match=r"expects uint8.*got float32.*already float"):
        to_float32(np.zeros((1, 2, 2, 1), np.float32))


def test_stratified_sample_keeps_class_shares_and_is_seeded():
    chosen = sample_indices(LABELS, 100, seed=3)
    assert len(np.unique(chosen)) == 100 and np.all(np.diff(chosen) > 0)
    assert np.bincount(LABELS[chosen]).tolist() == [10, 20, 30, 40]
    np.testing.assert_array_equal(chosen, sample_indices(LABELS, 100, seed=3))
    assert not np.array_equal(chosen, sample_indices(LABELS, 100, seed=4))


def test_a_sample_smaller_than_the_class_count_is_plain_random():
    chosen = sample_indices(LABELS, 3, seed=0)
    assert len(set(chosen)) == 3
    np.testing.assert_array_equal(chosen, sample_indices(LABELS, 3, seed=0))
    assert len(sample_indices(LABELS, 998, seed=0)) == 998


def test_unlabelled_sample_and_bad_sizes():
    assert len(sample_indices(None, 5, seed=0, population=9)) == 5
    with pytest.raises(InvalidInputError, match=r"cannot draw 1001 items from 1000"):
        sample_indices(LABELS, 1001, seed=0)
    with pytest.raises(InvalidInputError, match="needs labels or a population"):
        sample_indices(None, 3, seed=0)


def test_subset_of_a_dataset():
    images = np.zeros((1000, 2, 2, 1), np.uint8)
    dataset = Dataset("toy", images, LABELS, images[:100], LABELS[::10], ("a", "b", "c", "d"))
    small = subset(dataset, train_size=200, test_size=None, seed=0)
    assert len(small.x_train) == 200 and len(small.x_test) == 100
    assert np.bincount(small.y_train).tolist() == [20, 40, 60, 80]


def test_validation_split_is_disjoint_complete_and_stratified():
    images = np.arange(1000).reshape(1000, 1, 1, 1)
    x_train, _, x_val, y_val = train_validation_split(images, LABELS, 0.2, seed=1)
    assert len(x_val) == 200 and len(x_train) == 800
    assert set(x_train.ravel()) | set(x_val.ravel()) == set(range(1000))
    assert not set(x_train.ravel()) & set(x_val.ravel())
    assert np.bincount(y_val).tolist() == [20, 40, 60, 80]
    np.testing.assert_array_equal(y_val, LABELS[x_val.ravel()])


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_validation_fraction_must_be_a_proper_fraction(fraction):
    with pytest.raises(InvalidInputError, match="validation_fraction"):
        train_validation_split(np.zeros((10, 1, 1, 1)), None, fraction)


def test_stretched_levels_undo_a_gain_and_an_offset():
    images = np.random.default_rng(0).integers(10, 200, (3, 8, 8, 3)).astype(np.uint8)
    stretched = stretch_levels(images)
    assert stretched.min(axis=(1, 2, 3)).tolist() == [0, 0, 0]
    assert np.allclose(stretched.max(axis=(1, 2, 3)), 1)
    washed_out = 0.5 + (to_float32(images) - 0.5) * 0.6
    assert np.allclose(stretch_levels(washed_out * 0.7), stretched, atol=1e-5)


def test_a_flat_image_has_nothing_to_stretch():
    flat = np.full((1, 4, 4, 1), 0.3, dtype=np.float32)
    assert np.array_equal(stretch_levels(flat), flat)
