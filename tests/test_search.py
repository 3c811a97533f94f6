import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.neighbours import nearest_neighbours

RNG = np.random.default_rng(0)
GALLERY = RNG.normal(size=(500, 8)).astype("float32")
QUERIES = RNG.normal(size=(37, 8)).astype("float32")


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_matches_scikit_learn_brute_force(metric):
    indices, distances = nearest_neighbours(QUERIES, GALLERY, k=7, metric=metric)
    reference = NearestNeighbors(n_neighbors=7, algorithm="brute", metric=metric).fit(GALLERY)
    expected_distances, expected_indices = reference.kneighbors(QUERIES)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_one_query_at_a_time_gives_the_batch_result(metric):
    one = [nearest_neighbours(QUERIES[i : i + 1], GALLERY, 5, metric)[0] for i in range(37)]
    all_at_once = nearest_neighbours(QUERIES, GALLERY, k=5, metric=metric)
    np.testing.assert_array_equal(np.concatenate(one), all_at_once[0])


def test_a_gallery_item_is_its_own_nearest_neighbour():
    indices, distances = nearest_neighbours(GALLERY[:20], GALLERY, k=1)
    np.testing.assert_array_equal(indices[:, 0], np.arange(20))
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-3)


def test_bad_arguments():
    with pytest.raises(UnknownNameError, match="unknown metric 'hamming'"):
        nearest_neighbours(QUERIES, GALLERY, 3, metric="hamming")
    with pytest.raises(InvalidInputError, match="k must be between 1 and the gallery size 500"):
        nearest_neighbours(QUERIES, GALLERY, 501)
    with pytest.raises(InvalidInputError, match=r"query vectors must be a 2-D array \(N, 8\)"):
        nearest_neighbours(QUERIES[:, :4], GALLERY, 3)


@pytest.mark.parametrize("where", ["queries", "gallery"])
def test_a_nan_vector_is_an_error_not_the_last_gallery_item(where):
    queries, gallery = QUERIES.copy(), GALLERY.copy()
    (queries if where == "queries" else gallery)[3, 2] = np.nan
    kind = "query" if where == "queries" else "gallery"
    with pytest.raises(
        InvalidInputError, match=rf"1 {kind} vectors contain NaN or inf \(rows \[3\]"
    ):
        nearest_neighbours(queries, gallery, 5)


def test_an_empty_query_set_and_a_fractional_k_are_errors():
    with pytest.raises(InvalidInputError, match="no query vectors given"):
        nearest_neighbours(QUERIES[:0], GALLERY, 5)
    with pytest.raises(InvalidInputError, match=r"k must be a whole number.*2\.5"):
        nearest_neighbours(QUERIES, GALLERY, 2.5)
    with pytest.raises(InvalidInputError, match="k must be a whole number"):
        nearest_neighbours(QUERIES, GALLERY, True)
    rows, _ = nearest_neighbours(QUERIES, GALLERY, np.int64(3))
    assert rows.shape == (37, 3)


def test_progress_bars_only_where_someone_watches_and_when_asked(monkeypatch, capsys):
    from aesearch_utils import batching
    from aesearch_utils.data.preprocessing import as_float_images
    from aesearch_utils.search import PixelEncoder, SearchPipeline

    images = np.zeros((3 * batching.BLOCK_ROWS, 2, 2, 1), np.uint8)
    encoder = PixelEncoder((2, 2, 1))
    monkeypatch.setattr(batching, "watched", lambda: True)
    batching.map_blocks(lambda x: as_float_images(x).reshape(len(x), -1), images, progress="enc")
    assert "enc" in capsys.readouterr().err
    SearchPipeline(encoder).fit(images, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(batching, "watched", lambda: False)
    SearchPipeline(encoder).fit(images)
    assert capsys.readouterr().err == ""
