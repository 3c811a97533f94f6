"""One gallery, many processes: with its record in a real Milvus server (see milvus_server.py),
every opener, in this process or another service process, serves the same items and sees every
change another acknowledged. The services listen on 127.0.0.1; every loop is bounded."""

import io
import time
import uuid
from dataclasses import replace

import httpx
import numpy as np
import pytest
from conftest import png_bytes, start_service
from fastapi.testclient import TestClient
from PIL import Image

from aesearch_utils import config
from aesearch_utils.errors import DataNotFoundError, InvalidInputError
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.search.vector_index.milvus import MilvusIndex
from aesearch_utils.service.app import create_app
from aesearch_utils.service.server import free_port
from aesearch_utils.store import Gallery
from aesearch_utils.store.gallery import SharedGallery
from aesearch_utils.store.milvus_record import FIRST_ADDED_ID, LAST_ID, collection

RNG = np.random.default_rng(3)
IMAGES = RNG.integers(0, 256, (400, 6, 6, 1), dtype=np.uint8)
LABELS = np.arange(400) % 4


def pipeline() -> SearchPipeline:
    return SearchPipeline(PixelEncoder((6, 6, 1)), whiten_dims=16, expansion_k=3)


def shared_gallery(folder, milvus_uri) -> Gallery:
    return Gallery.build(folder / f"toy_{uuid.uuid4().hex[:8]}", pipeline(), IMAGES, LABELS,
                         vectors_uri=milvus_uri)  # fmt: skip


def test_a_shared_gallery_answers_like_the_embedded_exact_one(tmp_path, milvus_uri):
    embedded = Gallery.build(tmp_path / "embedded", pipeline(), IMAGES, LABELS)
    shared = shared_gallery(tmp_path, milvus_uri)
    assert isinstance(shared, SharedGallery) and not (shared.path / "record.sqlite").exists()
    queries = RNG.integers(0, 256, (1000, 6, 6, 1), dtype=np.uint8)
    expected, found = embedded.search(queries, 10), shared.search(queries, 10)
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_array_equal(found.labels, expected.labels)
    np.testing.assert_allclose(found.distances, expected.distances, atol=1e-5)
    assert len(shared) == 400 and shared.label(7) == 3
    np.testing.assert_array_equal(shared.image(123), IMAGES[123])

    added = shared.add(queries[:3], [1, None, 2])  # augmented as the embedded gallery does it
    assert (added >= FIRST_ADDED_ID).all() and (added <= LAST_ID).all()
    embedded.add(queries[:3], [1, None, 2])
    np.testing.assert_allclose(
        shared.search(queries[:3], 5).distances, embedded.search(queries[:3], 5).distances,
        atol=1e-5,
    )  # fmt: skip
    assert [shared.label(item) for item in added] == [1, None, 2]
    embedded.close()
    shared.remove()


def test_every_opener_sees_what_another_acknowledged(tmp_path, milvus_uri):
    """Two openers, each with its own client, share nothing but the server: an addition through
    one is found first through the other at once, a deletion never returned after it."""
    writer = shared_gallery(tmp_path, milvus_uri)
    reader = Gallery.open(writer.path, milvus_uri)  # no folder lock: many may open it
    queries = RNG.integers(0, 256, (200, 6, 6, 1), dtype=np.uint8)
    for query in queries:
        (added,) = writer.add(query[None], [1])
        assert reader.search(query[None], 1).ids[0, 0] == added
        writer.delete([added])
        assert added not in reader.search(query[None], 10).ids
        assert reader.label(added) is None
    assert len(reader) == len(writer) == 400
    writer.set_visibility("private")  # who may see it: at once for every opener
    assert reader.visibility == "private"
    with pytest.raises(InvalidInputError, match="nothing deleted"):
        reader.delete([0, int(added)])
    assert len(writer) == 400
    reader.close()
    writer.remove()


def test_a_shared_gallery_needs_its_server_and_its_collections(tmp_path, milvus_uri, monkeypatch):
    gallery = shared_gallery(tmp_path, milvus_uri)
    gallery.close()
    for uri in (None, str(tmp_path / "vectors.db")):  # no URI, or Milvus Lite: not a server
        with pytest.raises(InvalidInputError, match="AESEARCH_VECTORS_URI"):
            Gallery.open(gallery.path, uri)
    with pytest.raises(InvalidInputError, match="build it again"):
        Gallery.open(gallery.path, milvus_uri).rebuild()
    Gallery.open(gallery.path, milvus_uri).remove()
    assert not gallery.path.exists()

    def fails(index, ids, vectors, **values):
        raise RuntimeError("the server went away")

    probe = MilvusIndex(milvus_uri, "probe", 4)
    before = set(probe._client.list_collections())  # the session's other tests' too
    monkeypatch.setattr(MilvusIndex, "add", fails)
    with pytest.raises(RuntimeError, match="went away"):
        shared_gallery(tmp_path, milvus_uri)
    monkeypatch.undo()
    assert [path.name for path in tmp_path.iterdir()] == []  # no folder, no half-built one
    assert set(probe._client.list_collections()) == before  # and no collection
    probe.drop()
    probe.close()
    with pytest.raises(DataNotFoundError, match="no collection"):
        MilvusIndex(milvus_uri, collection("gone", "items"), 16, create=False)


def test_two_service_processes_serve_one_gallery(tmp_path, milvus_uri):
    """What one service process acknowledges, the other answers with: an added image is found
    first through the other within a second, a deleted one never returned by it."""
    galleries = tmp_path / "galleries"
    Gallery.build(galleries / "toy", pipeline(), IMAGES, LABELS, vectors_uri=milvus_uri).close()
    ports = [free_port(), free_port()]
    servers = [start_service(galleries, port, vectors_uri=milvus_uri) for port in ports]
    first, second = (f"http://127.0.0.1:{port}/api/galleries/toy" for port in ports)
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(20):
                image = RNG.integers(0, 256, (6, 6, 1), dtype=np.uint8)
                image[[0, -1], :] = image[:, [0, -1]] = 0  # dark borders: stored as sent
                upload = {"image": ("a.png", png_bytes(image))}
                added = client.post(f"{first}/images", files=upload)
                assert added.status_code == 201, added.text
                item = added.json()["id"]
                began = time.monotonic()
                found = client.post(f"{second}/search?k=1", files=upload).json()["results"]
                assert found[0]["id"] == item and time.monotonic() - began < 1
                shown = client.get(f"{second}/images/{item}")
                assert shown.status_code == 200
                np.testing.assert_array_equal(
                    np.asarray(Image.open(io.BytesIO(shown.content))), image[..., 0]
                )
                assert client.delete(f"{first}/images/{item}").status_code == 200
                found = client.post(f"{second}/search?k=10", files=upload).json()["results"]
                assert item not in [result["id"] for result in found]
                assert client.get(f"{second}/images/{item}").status_code == 404
            listed = [client.get(f"http://127.0.0.1:{port}/api/galleries").json() for port in ports]
            assert listed[0][0]["items"] == listed[1][0]["items"] == 400
            assert client.delete(first).status_code == 200  # the other forgets it
            assert client.get(second).status_code == 404
            assert client.get(f"http://127.0.0.1:{ports[1]}/api/galleries").json() == []
    finally:
        for server in servers:
            server.kill()
            server.wait(10)
        if (galleries / "toy").exists():
            Gallery.open(galleries / "toy", milvus_uri).remove()


def test_the_service_learns_a_shared_gallerys_size_from_its_searches(tmp_path, milvus_uri):
    """Only the server knows the size: the service asks no count before a search (a count on
    its event loop held every request up), a k above the size finds what there is, and an
    empty gallery is a 409 as an embedded one is."""
    gallery = Gallery.build(tmp_path / "few", pipeline(), IMAGES[:5], LABELS[:5],
                            vectors_uri=milvus_uri)  # fmt: skip
    settings = replace(config.settings(), galleries_dir=tmp_path)
    query = {"image": ("q.png", png_bytes(IMAGES[0]))}
    with TestClient(create_app(settings, {"few": gallery})) as client:
        found = client.post("/api/galleries/few/search?k=10", files=query)
        assert found.status_code == 200 and len(found.json()["results"]) == 5
        assert client.get("/api/galleries/few").json()["items"] == 5
        for item in range(5):
            assert client.delete(f"/api/galleries/few/images/{item}").json()["items"] == 4 - item
        empty = client.post("/api/galleries/few/search?k=3", files=query)
        assert empty.status_code == 409 and "is empty" in empty.json()["error"]
    gallery.remove()
