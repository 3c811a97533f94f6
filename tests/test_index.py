from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from aesearch_utils.errors import CorruptDataError, InvalidInputError, UnknownNameError
from aesearch_utils.search.encoders import PCAEncoder, PixelEncoder
from aesearch_utils.search.index import ImageIndex
from aesearch_utils.search.neighbours import nearest_neighbours

RNG = np.random.default_rng(0)
GALLERY = RNG.integers(0, 256, (300, 4, 4, 1), dtype=np.uint8)
LABELS = np.arange(300) % 3
QUERIES = RNG.integers(0, 256, (25, 4, 4, 1), dtype=np.uint8)
PIXELS = PixelEncoder((4, 4, 1))


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_exact_backends_agree(metric):
    # continuous vectors: no tied distances, so the top-k order is unique
    vectors = RNG.normal(size=(300, 16)).astype("float32")
    queries = RNG.normal(size=(25, 16)).astype("float32")
    exact, kdtree = (
        ImageIndex(vectors, LABELS, PIXELS, (4, 4, 1), metric, kind).query_vectors(queries, 8)
        for kind in ("exact", "kdtree")
    )
    np.testing.assert_array_equal(exact.ids, kdtree.ids)
    np.testing.assert_allclose(exact.distances, kdtree.distances, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(exact.labels, LABELS[exact.ids])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_hnsw_finds_nearly_all_true_neighbours(metric):
    vectors = RNG.normal(size=(3000, 16)).astype("float32")
    queries = RNG.normal(size=(100, 16)).astype("float32")
    encoder = PCAEncoder(16)  # only its name and size matter for query_vectors
    index = ImageIndex(vectors, None, encoder, (1, 1, 16), metric=metric, index_kind="hnsw")
    found = index.query_vectors(queries, k=10)
    truth, true_distances = nearest_neighbours(queries, vectors, 10, metric)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.ids, truth, strict=True)])
    assert recall >= 0.95 and found.labels is None
    np.testing.assert_allclose(found.distances[:, 0], true_distances[:, 0], rtol=1e-3, atol=1e-4)


def test_a_single_image_query_and_a_float_query():
    index = ImageIndex.build(PIXELS, GALLERY, LABELS)
    one = index.query(GALLERY[7], k=1)
    assert one.ids.shape == (1, 1) and one.ids[0, 0] == 7
    assert index.query(GALLERY[7:8] / 255.0, k=1).ids[0, 0] == 7


@pytest.mark.parametrize("kind", ["exact", "kdtree", "hnsw"])
def test_save_and_load_give_the_same_answers(tmp_path, kind):
    index = ImageIndex.build(PIXELS, GALLERY, LABELS, metric="cosine", index_kind=kind)
    path = index.save(tmp_path / "gallery.npz")
    loaded = ImageIndex.load(path, PIXELS)
    assert (loaded.vector_index.kind, loaded.metric, len(loaded)) == (kind, "cosine", 300)
    np.testing.assert_array_equal(loaded.query(QUERIES, 5).ids, index.query(QUERIES, 5).ids)
    assert [p.name for p in tmp_path.iterdir()] == ["gallery.npz"]


def test_loading_with_another_encoder_is_refused(tmp_path):
    path = ImageIndex.build(PIXELS, GALLERY, LABELS).save(tmp_path / "gallery.npz")
    other = PCAEncoder(4).fit(GALLERY)
    with pytest.raises(
        InvalidInputError, match=r"built with encoder raw_pixels \(16-D\); got pca_4"
    ):
        ImageIndex.load(path, other)


def test_a_corrupt_index_file_is_named(tmp_path):
    path = tmp_path / "gallery.npz"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CorruptDataError, match=r"gallery\.npz: not a readable index file"):
        ImageIndex.load(path, PIXELS)


def test_pca_baseline_is_fitted_on_the_gallery_only():
    encoder = PCAEncoder(3).fit(GALLERY)
    index = ImageIndex.build(encoder, GALLERY, LABELS)
    assert index.vectors.shape == (300, 3) and index.query(QUERIES, 2).ids.shape == (25, 2)
    with pytest.raises(InvalidInputError, match="fit the PCA encoder"):
        PCAEncoder(3).encode(GALLERY)


def test_pca_reconstruction_error_shrinks_to_zero_with_every_component():
    errors = [PCAEncoder(size).fit(GALLERY).reconstruction_mse(QUERIES) for size in (2, 8, 16)]
    assert errors[0] > errors[1] > errors[2] and errors[2] == pytest.approx(0, abs=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda i: i.query(QUERIES, 0), InvalidInputError, "k must be between 1 and the gallery"),
        (lambda i: i.query(QUERIES, 301), InvalidInputError, "gallery size 300, got 301"),
        (lambda i: i.query(QUERIES[:, :2], 3), InvalidInputError, r"query images are \(2, 4, 1\)"),
        (lambda i: i.query(QUERIES.astype(np.int32), 3), InvalidInputError, "uint8 or float"),
        (lambda i: i.query(QUERIES[:0], 3), InvalidInputError, "batch is empty"),
        (lambda i: i.query_vectors(np.ones((2, 5)), 3), InvalidInputError, r"\(N, 16\)"),
        (lambda i: i.query_vectors(np.full((1, 16), np.nan), 3), InvalidInputError, "NaN"),
    ],
)
def test_bad_queries(call, error, message):
    with pytest.raises(error, match=message):
        call(ImageIndex.build(PIXELS, GALLERY, LABELS))


def test_bad_galleries_and_settings():
    with pytest.raises(InvalidInputError, match="batch is empty"):
        ImageIndex.build(PIXELS, GALLERY[:0])
    with pytest.raises(InvalidInputError, match="no gallery vectors given"):
        ImageIndex(np.empty((0, 16)), None, PIXELS, (4, 4, 1))
    nan_vectors = np.ones((5, 16), np.float32)
    nan_vectors[2, 3] = np.inf
    with pytest.raises(
        InvalidInputError, match=r"1 gallery vectors contain NaN or inf \(rows \[2\]\)"
    ):
        ImageIndex(nan_vectors, None, PIXELS, (4, 4, 1))
    with pytest.raises(UnknownNameError, match="unknown metric 'chebyshev'"):
        ImageIndex.build(PIXELS, GALLERY, metric="chebyshev")
    with pytest.raises(UnknownNameError, match=r"unknown index 'annoy'.*exact, hnsw, kdtree"):
        ImageIndex.build(PIXELS, GALLERY, index_kind="annoy")
    with pytest.raises(InvalidInputError, match="hnsw index supports euclidean and cosine"):
        ImageIndex.build(PIXELS, GALLERY, metric="manhattan", index_kind="hnsw")


def test_a_truncated_hnsw_graph_is_a_corrupt_data_error(tmp_path):
    index = ImageIndex.build(PIXELS, GALLERY, LABELS, metric="cosine", index_kind="hnsw")
    with np.load(index.save(tmp_path / "gallery.npz")) as stored:
        arrays = dict(stored)
    np.savez(tmp_path / "cut.npz", **arrays | {"index_faiss": arrays["index_faiss"][:1000]})
    with pytest.raises(CorruptDataError, match=r"cut\.npz: the saved hnsw index is truncated"):
        ImageIndex.load(tmp_path / "cut.npz", PIXELS)
    fewer = ImageIndex.build(PIXELS, GALLERY[:200], metric="cosine", index_kind="hnsw")
    with np.load(fewer.save(tmp_path / "fewer.npz")) as stored:
        np.savez(tmp_path / "mixed.npz", **arrays | {"index_faiss": stored["index_faiss"]})
    with pytest.raises(CorruptDataError, match=r"hnsw index holds 200 vectors, the gallery 300"):
        ImageIndex.load(tmp_path / "mixed.npz", PIXELS)


def test_results_carry_the_stable_gallery_ids():
    ids = np.arange(300, dtype=np.int64) * 10 + 7
    index = ImageIndex.build(PIXELS, GALLERY, LABELS, ids=ids)
    result = index.query(GALLERY[[5, 9]], k=1)
    np.testing.assert_array_equal(result.rows[:, 0], [5, 9])
    np.testing.assert_array_equal(result.ids[:, 0], [57, 97])
    assert result.ids.dtype == np.int64
    with pytest.raises(InvalidInputError, match="unique"):
        ImageIndex.build(PIXELS, GALLERY, LABELS, ids=np.zeros(300, np.int64))
    with pytest.raises(InvalidInputError, match="300 integers"):
        ImageIndex.build(PIXELS, GALLERY, LABELS, ids=np.arange(5))


@pytest.mark.parametrize("kind", ["exact", "kdtree", "hnsw"])
def test_concurrent_queries_match_sequential_ones(kind):
    vectors = RNG.normal(size=(2000, 16)).astype("float32")
    queries = RNG.normal(size=(64, 16)).astype("float32")
    index = ImageIndex(vectors, None, PIXELS, (4, 4, 1), "cosine", kind)
    # HNSW: each thread asks for its own efSearch; none may leak into another's search
    efs = [16, 512] * 32
    sequential = [
        index.query_vectors(q, 10, breadth=ef).ids for q, ef in zip(queries, efs, strict=True)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(
            pool.map(
                lambda job: index.query_vectors(job[0], 10, breadth=job[1]).ids,
                zip(queries, efs, strict=True),
            )
        )
    for alone, together in zip(sequential, concurrent, strict=True):
        np.testing.assert_array_equal(alone, together)
