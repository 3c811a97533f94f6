"""The path past one machine: the same gallery with its vectors in Milvus answers like the
embedded FAISS view, on Milvus Lite (embedded, through a local file URI) and on a real Milvus
server (the standalone binary of PyPI's ``milvus``, on 127.0.0.1: see milvus_server.py)."""

import os
import shutil
import signal
import time
import uuid
from dataclasses import replace

import numpy as np
import pytest
from conftest import png_bytes
from fastapi.testclient import TestClient

from aesearch_utils import config
from aesearch_utils.errors import BackendUnavailableError
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.search.vector_index import FlatIndex
from aesearch_utils.search.vector_index.milvus import MilvusIndex
from aesearch_utils.service import state as state_module
from aesearch_utils.service.app import create_app
from aesearch_utils.store import Gallery

RNG = np.random.default_rng(1)
IMAGES = RNG.integers(0, 256, (400, 6, 6, 1), dtype=np.uint8)
LABELS = np.arange(400) % 4


@pytest.fixture(params=["lite", "server"])
def vectors_uri(request, tmp_path):
    if request.param == "lite":
        pytest.importorskip("milvus_lite", reason="Milvus Lite is installed with the project")
        return str(tmp_path / "vectors.db")
    return request.getfixturevalue("milvus_uri")


def embedded_gallery(tmp_path):
    """A gallery folder of its own: on the shared server its collections are its own too."""
    pipeline = SearchPipeline(PixelEncoder((6, 6, 1)), whiten_dims=16, expansion_k=3)
    return Gallery.build(tmp_path / f"toy_{uuid.uuid4().hex[:8]}", pipeline, IMAGES, LABELS)


def test_milvus_gives_the_same_top_10_as_the_embedded_view(tmp_path, vectors_uri):
    embedded = embedded_gallery(tmp_path)
    folder = embedded.path
    queries = RNG.integers(0, 256, (12, 6, 6, 1), dtype=np.uint8)  # small batches: Lite is slow
    expected = embedded.search(queries, 10)
    embedded.close()

    remote = Gallery.open(folder, vectors_uri=vectors_uri)
    found = remote.search(queries, 10)
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_allclose(found.distances, expected.distances, atol=1e-5)

    (added,) = remote.add(queries[:1], [2])
    assert remote.search(queries[:1], 1).ids[0, 0] == added
    remote.delete([added, 0])
    assert len(remote) == 399 and remote._index.count() == 399
    remote.close()

    # a Milvus collection that lags the record (a crash between the two) is refilled
    reopened = Gallery.open(folder, vectors_uri=vectors_uri)
    assert reopened._index.count() == len(reopened) == 399
    reopened.remove()


def test_a_search_sees_every_acknowledged_addition_and_deletion(tmp_path, milvus_uri):
    """A server's default consistency (bounded staleness) let a search made at once miss an
    addition, or return an id just deleted (whose label lookup then failed)."""
    embedded = embedded_gallery(tmp_path)
    folder = embedded.path
    embedded.close()
    gallery = Gallery.open(folder, vectors_uri=milvus_uri)
    queries = RNG.integers(0, 256, (1000, 6, 6, 1), dtype=np.uint8)
    for query in queries:
        (added,) = gallery.add(query[None], [1])
        assert gallery.search(query[None], 1).ids[0, 0] == added
        gallery.delete([added])
        assert added not in gallery.search(query[None], 10).ids
    gallery.remove()


def test_a_copied_gallery_folder_has_collections_of_its_own(tmp_path, milvus_uri):
    """Named after the folder, a copy (same name, another place) shared the original's
    collections: adding to one broke the other's searches, deleting from one removed the
    other's results."""
    built = embedded_gallery(tmp_path)
    built.close()
    copy = tmp_path / "elsewhere" / built.path.name
    shutil.copytree(built.path, copy)
    original = Gallery.open(built.path, vectors_uri=milvus_uri)
    copied = Gallery.open(copy, vectors_uri=milvus_uri)
    expected = original.search(IMAGES[:5], 10)
    copied.add(IMAGES[:5], [0] * 5)
    copied.delete(expected.ids[:, 1].tolist())
    found = original.search(IMAGES[:5], 10)
    np.testing.assert_array_equal(found.ids, expected.ids)
    assert len(copied) == len(original) + 5 - len(set(expected.ids[:, 1].tolist()))
    original.remove()
    copied.remove()


@pytest.mark.parametrize("record", ["sqlite", "milvus"])
def test_a_milvus_server_that_dies_is_a_503_at_once_and_the_service_recovers(
    tmp_path, milvus_server, record
):
    """With Milvus killed, every search answered a plain-text 500 while /api/health said ok;
    the same holds for a gallery whose whole record is in Milvus."""
    if record == "sqlite":
        gallery = embedded_gallery(tmp_path)
        gallery.close()
        gallery = Gallery.open(gallery.path, vectors_uri=milvus_server.uri)
    else:
        gallery = Gallery.build(tmp_path / "toy", SearchPipeline(PixelEncoder((6, 6, 1))),
                                IMAGES, LABELS, vectors_uri=milvus_server.uri)  # fmt: skip
    settings = replace(config.settings(), galleries_dir=tmp_path)
    toy = f"/api/galleries/{gallery.name}"
    with TestClient(create_app(settings, {gallery.name: gallery})) as client:
        query = {"image": ("query.png", png_bytes(IMAGES[0]))}
        before = client.post(f"{toy}/search?k=3", files=query)
        assert before.status_code == 200
        os.kill(milvus_server.pid, signal.SIGSTOP)  # a server that hangs: health is bounded too
        try:
            start = time.monotonic()
            assert client.get("/api/health").status_code == 503
            assert time.monotonic() - start < 2
        finally:
            os.kill(milvus_server.pid, signal.SIGCONT)
        assert client.get("/api/health").status_code == 200
        milvus_server.kill()
        for method, address in [
            ("POST", f"{toy}/search?k=3"),
            ("GET", "/api/health"),
            ("POST", f"{toy}/images"),
            ("DELETE", f"{toy}/images/5"),
        ]:
            start = time.monotonic()
            reply = client.request(method, address, files=query if method == "POST" else None)
            assert time.monotonic() - start < 2, address
            assert reply.status_code == 503, (address, reply.text)
            assert "does not answer" in reply.json()["error"]
            assert reply.headers["retry-after"]

        milvus_server.start()
        deadline = time.monotonic() + 60
        while client.get("/api/health").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover in 60 s"
            time.sleep(0.5)
        reply = client.post(f"{toy}/search?k=3", files=query)
        assert reply.status_code == 200 and reply.json() == before.json()
        assert len(gallery) == 400 and gallery.record.count() == 400  # nothing changed
    gallery.remove()


@pytest.mark.parametrize("index_type", ["HNSW", "IVF_FLAT"])
def test_an_approximate_milvus_index_finds_nearly_all_true_neighbours(milvus_uri, index_type):
    centres = RNG.normal(size=(20, 16)).astype(np.float32)
    vectors = centres[np.arange(3000) % 20] + 0.3 * RNG.normal(size=(3000, 16)).astype(np.float32)
    queries = centres[np.arange(40) % 20] + 0.3 * RNG.normal(size=(40, 16)).astype(np.float32)
    ids = np.arange(3000, dtype=np.int64) * 3 + 1
    index = MilvusIndex(
        milvus_uri, f"approximate_{uuid.uuid4().hex[:8]}", 16, index_type=index_type
    )
    index.add(ids, vectors)
    exact = FlatIndex(16, "cosine")
    exact.add(ids, vectors)
    truth, true_distances = exact.search(queries, 10)
    found, distances = index.search(queries, 10)
    assert index.held_index_type == index_type and not index.exact
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]) >= 0.95
    np.testing.assert_allclose(distances[:, 0], true_distances[:, 0], atol=1e-5)
    assert sorted(index.ids().tolist()) == ids.tolist()
    index.remove(truth[:, 0])
    assert not np.isin(index.search(queries, 10)[0], truth[:, 0]).any()
    index.drop()
    index.close()


def test_a_change_of_index_setting_refills_the_collections(tmp_path, milvus_uri, monkeypatch):
    built = embedded_gallery(tmp_path)
    built.close()
    folder = built.path
    monkeypatch.setenv("AESEARCH_GALLERY_INDEX", "hnsw")
    remote = Gallery.open(folder, vectors_uri=milvus_uri)
    assert (remote.index_kind, remote._index.held_index_type) == ("hnsw", "HNSW")
    expected = remote.search(IMAGES[:10], 5).ids
    remote.close()
    monkeypatch.setenv("AESEARCH_GALLERY_INDEX", "exact")
    remote = Gallery.open(folder, vectors_uri=milvus_uri)
    assert remote._index.held_index_type == remote._base_index().held_index_type == "FLAT"
    assert remote._index.count() == 400
    np.testing.assert_array_equal(remote.search(IMAGES[:10], 5).ids, expected)
    remote.remove()


def test_a_rebuild_that_fails_midway_is_refilled_before_anything_is_served(
    tmp_path, milvus_uri, monkeypatch
):
    """The record holds the rebuilt vectors once its transaction commits; a server that failed
    after taking half of them left a half-filled collection that searches answered from."""
    built = embedded_gallery(tmp_path)
    built.close()
    remote = Gallery.open(built.path, vectors_uri=milvus_uri)
    new = RNG.integers(0, 256, (20, 6, 6, 1), dtype=np.uint8)  # no ties with the gallery's
    added = remote.add(new, [0] * 20)
    queries = np.concatenate([new, IMAGES[:20]])
    real_add = MilvusIndex.add

    def fails_midway(index, ids, vectors):
        real_add(index, ids[: len(ids) // 2], vectors[: len(ids) // 2])
        raise BackendUnavailableError("the vectors server is down")

    monkeypatch.setattr(MilvusIndex, "add", fails_midway)
    with pytest.raises(BackendUnavailableError):
        remote.rebuild()
    with pytest.raises(BackendUnavailableError):
        remote.search(IMAGES[:5], 10)  # still down: an error, never half the gallery
    monkeypatch.undo()
    found = remote.search(queries, 10)  # refilled first
    assert remote._index.count() == remote._base_index().count() == 420
    remote.close()
    embedded = Gallery.open(built.path)  # the record's vectors, searched in FAISS
    np.testing.assert_array_equal(found.ids, embedded.search(queries, 10).ids)
    np.testing.assert_array_equal(found.ids[:20, 0], added)
    embedded.close()


def test_a_service_started_before_its_milvus_server_serves_once_the_server_is_up(
    tmp_path, milvus_server, monkeypatch
):
    """Started while Milvus was down, the service left the gallery out for good."""
    monkeypatch.setattr(state_module, "RETRY_S", 0.5)
    galleries = tmp_path / "galleries"
    built = Gallery.build(
        galleries / "toy", SearchPipeline(PixelEncoder((6, 6, 1))), IMAGES, LABELS
    )
    built.close()
    query = {"image": ("query.png", png_bytes(IMAGES[0]))}
    settings = replace(config.settings(), galleries_dir=galleries, vectors_uri="")
    with TestClient(create_app(settings)) as client:  # the embedded answer, to compare with
        expected = client.post("/api/galleries/toy/search?k=3", files=query).json()
    client.app.state.service.galleries["toy"].close()
    milvus_server.kill()
    settings = replace(settings, vectors_uri=milvus_server.uri)
    with TestClient(create_app(settings)) as client:
        for method, address in [("POST", "/api/galleries/toy/search?k=3"), ("GET", "/api/health")]:
            reply = client.request(method, address, files=query if method == "POST" else None)
            assert reply.status_code == 503 and "does not answer" in reply.json()["error"]
        assert client.post("/api/galleries/other/search", files=query).status_code == 404
        milvus_server.start()
        deadline = time.monotonic() + 60
        while client.get("/api/health").status_code != 200:
            assert time.monotonic() < deadline, "the gallery was not served within 60 s"
            time.sleep(0.5)
        reply = client.post("/api/galleries/toy/search?k=3", files=query)
        assert reply.status_code == 200 and reply.json() == expected
    client.app.state.service.galleries["toy"].remove()
