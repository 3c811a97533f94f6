import numpy as np
import pytest

from aesearch_utils.search import array_cache, whitening
from aesearch_utils.search.array_cache import (
    MIN_CACHED_QUERIES,
    MIN_CACHED_ROWS,
    CostTimer,
    file_identity,
)
from aesearch_utils.search.encoders import (
    ConcatenatedEncoder,
    PCAEncoder,
    PixelEncoder,
    encode_images,
)
from aesearch_utils.search.index import ImageIndex
from aesearch_utils.search.neighbours import nearest_neighbours
from aesearch_utils.search.vector_index import FlatIndex
from aesearch_utils.search.whitening import Whitening, principal_axes

ROWS = MIN_CACHED_ROWS + 10


class CountingEncoder:
    """Mean and spread of each image, counting the rows it encodes."""

    def __init__(self, identity: str | None = "counting|1") -> None:
        self.name = "counting"
        self.identity = identity
        self.rows_encoded = 0

    @property
    def output_dim(self) -> int:
        return 2

    def cache_identity(self) -> str | None:
        return self.identity

    def encode(self, images: np.ndarray) -> np.ndarray:
        self.rows_encoded += len(images)
        flat = images.reshape(len(images), -1).astype(np.float32)
        return np.stack([flat.mean(axis=1), flat.std(axis=1)], axis=1)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AESEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AESEARCH_ARRAY_CACHE", raising=False)
    return tmp_path / "arrays" / "features"


def images(rows: int = ROWS, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (rows, 4, 4, 1), dtype=np.uint8)


def test_a_gallery_is_encoded_once_then_read_back(cache_dir):
    encoder, gallery = CountingEncoder(), images()

    first = encode_images(encoder, gallery)
    second = encode_images(encoder, gallery)

    assert encoder.rows_encoded == ROWS
    np.testing.assert_array_equal(first, second)
    assert len(list(cache_dir.glob("*.npz"))) == 1


def test_other_images_or_another_encoder_are_encoded_anew(cache_dir):
    encoder = CountingEncoder()
    encode_images(encoder, images(seed=0))
    encode_images(encoder, images(seed=1))
    encode_images(CountingEncoder("counting|2"), images(seed=0))
    assert encoder.rows_encoded == 2 * ROWS
    assert len(list(cache_dir.glob("*.npz"))) == 3


@pytest.mark.parametrize(
    ("rows", "identity", "switch"),
    [(MIN_CACHED_ROWS - 1, "counting|1", ""), (ROWS, None, ""), (ROWS, "counting|1", "0")],
    ids=["a small batch", "an encoder without identity", "the cache switched off"],
)
def test_what_is_never_cached(cache_dir, monkeypatch, rows, identity, switch):
    if switch:
        monkeypatch.setenv("AESEARCH_ARRAY_CACHE", switch)
    encoder, batch = CountingEncoder(identity), images(rows)
    encode_images(encoder, batch)
    encode_images(encoder, batch)
    assert encoder.rows_encoded == 2 * rows
    assert not cache_dir.exists()


def test_an_unreadable_entry_is_encoded_again_and_replaced(cache_dir):
    encoder, gallery = CountingEncoder(), images()
    expected = encode_images(encoder, gallery)
    (entry,) = cache_dir.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])  # a crash mid-write would leave no entry at all

    np.testing.assert_array_equal(encode_images(encoder, gallery), expected)
    assert encoder.rows_encoded == 2 * ROWS
    with np.load(entry) as stored:
        np.testing.assert_array_equal(stored["arr_0"], expected)


def test_a_concatenation_encodes_the_gallery_once_to_fit_and_index_it(cache_dir):
    left, right = CountingEncoder("left"), CountingEncoder("right")
    gallery = images()
    concatenation = ConcatenatedEncoder([(left, Whitening(2)), (right, Whitening(2))])

    concatenation.fit(gallery)
    features = encode_images(concatenation, gallery)

    assert (left.rows_encoded, right.rows_encoded) == (ROWS, ROWS)
    np.testing.assert_allclose(features, concatenation.encode(gallery), rtol=1e-5, atol=1e-6)


def test_a_changed_file_has_another_identity(tmp_path):
    model = tmp_path / "model.keras"
    assert file_identity(model) is None
    model.write_bytes(b"first weights")
    before = file_identity(model)
    model.write_bytes(b"weights trained again")
    assert before is not None and file_identity(model) not in (None, before)


def test_a_change_of_the_feature_code_encodes_anew(cache_dir, monkeypatch):
    encoder, gallery = CountingEncoder(), images()
    encode_images(encoder, gallery)
    monkeypatch.setattr(array_cache, "_code_version", lambda: "edited")
    encode_images(encoder, gallery)
    assert encoder.rows_encoded == 2 * ROWS


def test_a_large_search_is_kept_and_a_timing_counts_what_the_cache_spared(cache_dir, monkeypatch):
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(500, 8)).astype(np.float32)
    queries = rng.normal(size=(ROWS, 8)).astype(np.float32)
    searches = []
    real_search = FlatIndex._search

    def counted(index, queries, k, parameters):
        searches.append(k)
        return real_search(index, queries, k, parameters)

    monkeypatch.setattr(FlatIndex, "_search", counted)
    rows, distances = nearest_neighbours(queries, gallery, 5, "cosine")
    (entry,) = (cache_dir.parent / "neighbours").glob("*.npz")
    with np.load(entry) as stored:
        compute_seconds = float(stored["seconds"])
    with CostTimer() as timer:
        again = nearest_neighbours(queries, gallery, 5, "cosine")
    index = ImageIndex(gallery, None, PixelEncoder((2, 4, 1)), (2, 4, 1), "cosine")
    from_index = index.query_vectors(queries, 5)

    assert searches == [5]
    assert timer.seconds >= compute_seconds  # the search the cache spared, as if it had run
    np.testing.assert_array_equal(again[0], rows)
    np.testing.assert_array_equal(from_index.rows, rows)  # the index's search: the same entry
    np.testing.assert_allclose(from_index.distances, distances)
    assert len(list(entry.parent.glob("*.npz"))) == 1
    nearest_neighbours(queries[: MIN_CACHED_QUERIES - 1], gallery, 5, "cosine")
    nearest_neighbours(queries, gallery, 6, "cosine")
    assert searches == [5, 5, 6]  # a small batch, and another k, are searched
    assert len(list(entry.parent.glob("*.npz"))) == 2
    for _ in range(2):  # fewer queries than a batch of images must have, but enough to keep
        nearest_neighbours(queries[:MIN_CACHED_QUERIES], gallery, 5, "cosine")
    assert searches == [5, 5, 6, 5]
    changing = FlatIndex(8, "cosine")
    changing.add(np.arange(500), gallery)
    np.testing.assert_array_equal(changing.search(queries, 5)[0], rows)
    changing.remove(np.array([int(rows[0, 0])]))  # a changed index is never answered from it
    assert changing.search(queries, 5)[0][0, 0] != rows[0, 0] and searches == [5, 5, 6, 5, 5]
    changing.add(np.array([rows[0, 0]]), gallery[rows[0, :1]])
    np.testing.assert_array_equal(changing.search(queries, 5)[0], rows)
    assert searches == [5, 5, 6, 5, 5, 5]  # the first: nearest_neighbours' entry, read back


def test_a_large_gallerys_principal_axes_are_fitted_once(cache_dir, monkeypatch):
    vectors = np.random.default_rng(0).normal(size=(ROWS, 3)).astype(np.float32)
    fits = []
    real_fit = whitening._principal_axes
    monkeypatch.setattr(whitening, "_principal_axes", lambda v: fits.append(1) or real_fit(v))

    first, second = principal_axes(vectors), principal_axes(vectors)
    principal_axes(vectors[:10])

    assert len(fits) == 2  # the large gallery once, the small one every time
    for name in ("mean", "variances", "axes"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.axes.dtype == np.float64
    assert len(list((cache_dir.parent / "statistics").glob("*.npz"))) == 1


def test_a_large_gallerys_pca_is_fitted_once(cache_dir, monkeypatch):
    from sklearn import decomposition

    fits = []
    real_fit = decomposition.PCA.fit
    monkeypatch.setattr(decomposition.PCA, "fit", lambda pca, x: fits.append(1) or real_fit(pca, x))
    gallery = images()

    first, second = PCAEncoder(3).fit(gallery), PCAEncoder(3).fit(gallery)
    PCAEncoder(3, seed=1).fit(gallery)

    assert len(fits) == 2  # another seed is another fit
    np.testing.assert_array_equal(first.encode(gallery[:5]), second.encode(gallery[:5]))
