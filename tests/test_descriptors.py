import numpy as np
import pytest

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.descriptors import ColourHistogramEncoder, HOGEncoder
from aesearch_utils.search.encoders import load_encoder
from aesearch_utils.search.feature_spec import is_baseline, parse_features

RNG = np.random.default_rng(0)


def test_hog_describes_grey_and_colour_images_with_the_documented_size():
    grey = HOGEncoder((28, 28, 1))
    vectors = grey.encode(RNG.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8))
    assert vectors.shape == (3, grey.output_dim) == (3, 6 * 6 * 2 * 2 * 9)
    colour = HOGEncoder((32, 32, 3))
    assert colour.encode(RNG.random((2, 32, 32, 3))).shape == (2, 7 * 7 * 4 * 9)
    assert vectors.dtype == np.float32 and np.isfinite(vectors).all()


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (30, 26, 1), (18, 21, 3)])
def test_hog_gives_scikit_images_descriptor_for_a_whole_batch(shape):
    from skimage.feature import hog

    images = RNG.integers(0, 256, (4, *shape), dtype=np.uint8)
    images[0] = 0  # no gradient anywhere: every block is zero
    images[1, ..., 0] = np.arange(shape[1]) * 7  # one orientation everywhere
    images[2, ..., -1] = images[2, ..., 0]  # channels tie for the strongest gradient
    floats = images / np.float32(255)
    colour = shape[-1] > 1
    expected = [
        hog(
            image if colour else image[..., 0],
            orientations=9,
            pixels_per_cell=(4, 4),
            cells_per_block=(2, 2),
            channel_axis=-1 if colour else None,
        )
        for image in floats
    ]
    encoder = HOGEncoder(shape)
    assert encoder.output_dim == len(expected[0])
    np.testing.assert_allclose(encoder.encode(images), expected, rtol=0, atol=1e-6)


def test_hog_sees_the_orientation_of_a_stroke():
    vertical, horizontal = np.zeros((2, 28, 28, 1), np.uint8), np.zeros((2, 28, 28, 1), np.uint8)
    vertical[0, 4:24, 10:13] = vertical[1, 4:24, 15:18] = 255
    horizontal[0, 10:13, 4:24] = horizontal[1, 15:18, 4:24] = 255
    features = HOGEncoder((28, 28, 1)).encode(np.concatenate([vertical, horizontal]))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    similarity = unit @ unit.T
    # a vertical stroke moved 5 px stays closer to a vertical stroke than to a horizontal one
    assert similarity[0, 1] > similarity[0, 2] and similarity[2, 3] > similarity[2, 1]


def test_hog_rejects_images_smaller_than_one_block():
    with pytest.raises(InvalidInputError, match="at least 8x8"):
        HOGEncoder((4, 4, 1))


def test_the_colour_histogram_is_a_square_rooted_distribution():
    encoder = ColourHistogramEncoder(4)
    images = RNG.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    histograms = encoder.encode(images)
    assert histograms.shape == (5, 64)
    np.testing.assert_allclose((histograms**2).sum(axis=1), 1, rtol=1e-5)
    red = np.zeros((1, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    # all of a pure red image falls into the one cell (red level 3, green 0, blue 0)
    assert encoder.encode(red)[0, 3 * 16] == pytest.approx(1)
    grey = np.full((1, 8, 8, 1), 128, np.uint8)
    assert encoder.encode(grey)[0, (2 * 4 + 2) * 4 + 2] == pytest.approx(1)  # on the diagonal
    with pytest.raises(InvalidInputError, match=r"2\.\.16 bins"):
        ColourHistogramEncoder(40)


def test_descriptors_reopen_from_their_saved_state(tmp_path):
    images = RNG.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for encoder in (HOGEncoder((32, 32, 3)), ColourHistogramEncoder(8)):
        state = encoder.save_state(tmp_path, "key")
        again = load_encoder(state, tmp_path, "key")
        np.testing.assert_array_equal(again.encode(images), encoder.encode(images))
    with pytest.raises(UnknownNameError, match="hog, colour"):
        load_encoder({"kind": "sift", "name": "sift"}, tmp_path, "key")


def test_descriptor_specs_parse_and_count_as_baselines():
    assert str(parse_features("hog")) == "hog" and str(parse_features("colour:8")) == "colour:8"
    joined = "colour:8@64^0.5 + hog@256^0.5"
    assert str(parse_features(joined)) == joined
    assert is_baseline(joined) and is_baseline("pca:32") and is_baseline("raw")
    assert not is_baseline("hog@64^0.5 + dense:latent@32^0.5")
    with pytest.raises(InvalidInputError, match="'hog' takes no options"):
        parse_features("hog:4")
    with pytest.raises(InvalidInputError, match="'colour:N'"):
        parse_features("colour")
