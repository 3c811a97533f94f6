"""The one vector index interface: every kind held in memory keeps ids, forgets removed ones,
reads vectors back, saves and restores; the gallery searches the kind its setting names."""

import json

import numpy as np
import pytest

from aesearch_utils import config
from aesearch_utils.errors import CorruptDataError, InvalidInputError, UnknownNameError
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.search.neighbours import nearest_neighbours, unit_vectors
from aesearch_utils.search.reranking import expanded_queries
from aesearch_utils.search.vector_index import INDEX_KINDS, HNSWIndex, make_index, restore_index
from aesearch_utils.store import Gallery
from aesearch_utils.store.gallery import APPROXIMATE_FROM, gallery_index_kind

RNG = np.random.default_rng(3)
CENTRES = RNG.normal(size=(20, 12)).astype(np.float32)
VECTORS = (CENTRES[np.arange(2000) % 20] + 0.3 * RNG.normal(size=(2000, 12))).astype(np.float32)
IDS = np.arange(2000, dtype=np.int64) * 7 + 100  # ids are not rows
QUERIES = (CENTRES[np.arange(50) % 20] + 0.3 * RNG.normal(size=(50, 12))).astype(np.float32)


def filled(kind, metric="cosine"):
    index = make_index(kind, 12, metric)
    index.add(IDS[:1500], VECTORS[:1500])
    index.add(IDS[1500:], VECTORS[1500:])
    return index


def recall(found, truth):
    return np.mean(
        [len(set(a) & set(b)) / truth.shape[1] for a, b in zip(found, truth, strict=True)]
    )


@pytest.mark.parametrize("kind", sorted(INDEX_KINDS))
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_every_kind_finds_the_true_neighbours_by_id(kind, metric):
    index = filled(kind, metric)
    rows, distances = nearest_neighbours(QUERIES, VECTORS, 10, metric)
    ids, found_distances = index.search(QUERIES, 10)
    assert ids.dtype == np.int64 and index.count() == 2000
    assert recall(ids, IDS[rows]) >= (1.0 if index.exact else 0.95)
    np.testing.assert_allclose(found_distances[:, 0], distances[:, 0], rtol=1e-4, atol=1e-5)
    assert sorted(index.ids().tolist()) == IDS.tolist()


@pytest.mark.parametrize("kind", sorted(INDEX_KINDS))
def test_a_removed_id_is_never_found_nor_read_back(kind):
    index = filled(kind)
    first, _ = index.search(QUERIES, 5)
    gone = np.unique(first[:, :2])
    index.remove(gone)
    index.remove(np.array([-5, 3]))  # ids it never held: ignored
    assert index.count() == 2000 - len(gone)
    assert not np.isin(index.search(QUERIES, 10)[0], gone).any()
    assert not np.isin(index.ids(), gone).any()
    with pytest.raises(InvalidInputError, match="holds no vectors with the ids"):
        index.vectors_of(gone[:1])
    kept = np.setdiff1d(IDS, gone)[:3]
    stored = index.vectors_of(kept.reshape(1, 3))
    assert stored.shape == (1, 3, 12)
    np.testing.assert_allclose(stored[0], unit_vectors(VECTORS[np.isin(IDS, kept)]), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(INDEX_KINDS))
def test_a_restored_index_answers_as_the_saved_one(kind):
    index = filled(kind)
    index.remove(IDS[:40])
    restored = restore_index(kind, index.state(), 12, "cosine", **index.options())
    np.testing.assert_array_equal(restored.search(QUERIES, 10)[0], index.search(QUERIES, 10)[0])
    assert restored.count() == index.count() == 1960


def test_a_damaged_or_mismatched_hnsw_state_is_a_corrupt_data_error():
    state = filled("hnsw").state()
    with pytest.raises(CorruptDataError, match="hnsw index is truncated or damaged"):
        restore_index("hnsw", state | {"faiss": state["faiss"][:500]}, 12, "cosine")
    with pytest.raises(CorruptDataError, match="not a 16-D cosine index"):
        restore_index("hnsw", state, 16, "cosine")
    with pytest.raises(CorruptDataError, match="not an HNSW graph of 16 links"):
        restore_index("hnsw", state, 12, "cosine", neighbours=16)
    with pytest.raises(CorruptDataError, match="not a 12-D euclidean index"):
        restore_index("exact", filled("exact").state(), 12, "euclidean")


def test_a_breadth_of_one_query_is_its_own():
    index = filled("hnsw")
    narrow, _ = index.search(QUERIES, 10, breadth=10)
    wide, _ = index.search(QUERIES, 10, breadth=1000)
    truth = IDS[nearest_neighbours(QUERIES, VECTORS, 10, "cosine")[0]]
    assert recall(wide, truth) >= recall(narrow, truth) and recall(wide, truth) == 1.0
    assert isinstance(index, HNSWIndex) and index.ef_search == 256  # unchanged by either call


def test_bad_entries_and_names_are_refused():
    index = make_index("exact", 12, "cosine")
    with pytest.raises(InvalidInputError, match=r"3 ids need vectors of shape \(3, 12\)"):
        index.add(np.arange(3), np.ones((3, 4)))
    with pytest.raises(InvalidInputError, match="1-D array of integers"):
        index.add(np.array([0.5]), np.ones((1, 12)))
    with pytest.raises(UnknownNameError, match=r"unknown index 'ivf'.*exact, hnsw, kdtree"):
        make_index("ivf", 12, "cosine")
    with pytest.raises(InvalidInputError, match="hnsw index supports euclidean and cosine"):
        make_index("hnsw", 12, "manhattan")


def test_the_gallery_setting_chooses_the_index():
    assert gallery_index_kind("auto", APPROXIMATE_FROM - 1, False) == "exact"
    assert gallery_index_kind("auto", APPROXIMATE_FROM, True) == "hnsw"
    assert gallery_index_kind("ivf", 10, True) == "ivf"
    with pytest.raises(InvalidInputError, match="ivf is a Milvus index"):
        gallery_index_kind("ivf", 10, False)
    with pytest.raises(InvalidInputError, match="AESEARCH_GALLERY_INDEX='annoy': choose one of"):
        config.Settings.from_environment({"AESEARCH_GALLERY_INDEX": "annoy"})


def test_a_gallery_on_an_hnsw_graph_adds_deletes_and_rebuilds(tmp_path, monkeypatch):
    images = RNG.integers(0, 256, (300, 4, 4, 1), dtype=np.uint8)

    def built(name):
        pipeline = SearchPipeline(PixelEncoder((4, 4, 1)), whiten_dims=8, expansion_k=3)
        return Gallery.build(tmp_path / name, pipeline, images, np.arange(300) % 3)

    exact = built("exact")
    monkeypatch.setenv("AESEARCH_GALLERY_INDEX", "hnsw")
    gallery = built("hnsw")
    assert (exact.index_kind, gallery.index_kind, gallery.info()["index"]) == (
        "exact",
        "hnsw",
        "hnsw",
    )
    assert gallery.pipeline.steps.endswith("| hnsw")  # its augmentation searched the graph too
    assert recall(gallery.search(images, 10).ids, exact.search(images, 10).ids) >= 0.95
    exact.close()
    (added,) = gallery.add(images[:1], [2])
    assert added in gallery.search(images[:1], 2).ids
    gallery.delete([0, added])
    assert not np.isin(gallery.search(images[:40], 10).ids, [0, added]).any()
    before = gallery.search(images[1:40], 5).ids
    gallery.rebuild()  # a new graph, without the removed items it walked through
    assert gallery._index.count() == gallery._index._index.ntotal == len(gallery) == 299
    assert (gallery.search(images[1:40], 5).ids[:, 0] == before[:, 0]).all()
    gallery.close()


def test_the_galleries_default_ef_search_is_what_the_million_image_benchmark_chose():
    measured = json.loads(
        (config.project_root() / "results" / "gallery_scale.json").read_text(encoding="utf-8")
    )
    assert measured["chosen_ef_search"] == config.GALLERY_EF_SEARCH
    assert config.settings().gallery_ef_search == config.GALLERY_EF_SEARCH


def test_query_expansion_searches_with_the_breadth_it_is_given():
    """The benchmark's efSearch sweep once widened only the second of the two searches."""
    index, breadths = filled("hnsw"), []
    search = index.search
    index.search = lambda queries, k, breadth=None: (
        breadths.append(breadth) or search(queries, k, breadth)
    )
    expanded_queries(index, QUERIES, 5, breadth=40)
    expanded_queries(index, QUERIES, 5)
    assert breadths == [40, None]
