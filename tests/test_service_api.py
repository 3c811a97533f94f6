"""Every route of the web service, and every kind of bad input, through FastAPI's TestClient."""

import io
import zlib
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aesearch_utils import config
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.app import create_app
from aesearch_utils.store import Gallery

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (200, 8, 8, 1), dtype=np.uint8)
IMAGES[:, 0, :] = IMAGES[:, -1, :] = IMAGES[:, :, 0] = IMAGES[:, :, -1] = 0  # dark borders
LABELS = np.arange(200) % 4
TOKEN = "a-write-token-long-enough"


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def service(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)), whiten_dims=16, expansion_k=3)
    gallery = Gallery.build(tmp_path / "digits", pipeline, IMAGES, LABELS, class_names="abcd")
    settings = replace(config.settings(), galleries_dir=tmp_path, max_upload_bytes=50_000, max_k=50)
    with TestClient(create_app(settings, {"digits": gallery})) as client:
        yield client, gallery
    gallery.close()


def search(client, data: bytes, k: int | str = 5, name: str = "digits"):
    return client.post(f"/api/galleries/{name}/search?k={k}", files={"image": ("q.png", data)})


def test_health_galleries_page_and_docs(service):
    client, _ = service
    assert client.get("/api/health").json() == {"status": "ok", "galleries": 1}
    (info,) = client.get("/api/galleries").json()
    assert info["name"] == "digits" and info["items"] == 200 and info["class_names"] == list("abcd")
    assert "<canvas" in client.get("/").text
    assert "/api/galleries/{name}/search" in client.get("/openapi.json").json()["paths"]


def test_search_returns_the_top_k_with_labels_distances_and_image_urls(service):
    client, _ = service
    response = search(client, png(IMAGES[17, :, :, 0]), k=5)
    assert response.status_code == 200
    body = response.json()
    first = body["results"][0]
    assert len(body["results"]) == 5 and first["id"] == 17
    assert first["label"] == 1 and first["label_name"] == "b" and first["distance"] < 0.05
    assert body["query"]["image"].startswith("data:image/png;base64,")
    image = client.get(first["image_url"])
    assert image.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(image.content))), IMAGES[17, :, :, 0]
    )


def test_any_size_and_mode_is_converted_like_the_gallery(service):
    client, _ = service
    big_rgb = np.repeat(np.kron(IMAGES[17, :, :, 0], np.ones((8, 8), np.uint8))[..., None], 3, 2)
    assert search(client, png(big_rgb)).json()["results"][0]["id"] == 17
    inverted = search(client, png(255 - IMAGES[17, :, :, 0])).json()
    assert inverted["query"]["inverted"] and inverted["results"][0]["id"] == 17
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 255, (IMAGES[17, :, :, 0] > 0) * 255
    assert search(client, png(rgba, "RGBA")).json()["query"]["transparent"]


def test_add_search_and_delete(service):
    client, gallery = service
    new = RNG.integers(0, 256, (8, 8), dtype=np.uint8)
    added = client.post("/api/galleries/digits/images", files={"image": ("n.png", png(new))},
                        data={"label": "3"})  # fmt: skip
    assert added.status_code == 201 and added.json() == {"id": 200, "label": 3, "items": 201}
    assert search(client, png(new)).json()["results"][0]["id"] == 200
    assert client.delete("/api/galleries/digits/images/200").json() == {
        "deleted": 200,
        "items": 200,
    }
    assert search(client, png(new)).json()["results"][0]["id"] != 200
    assert len(gallery) == 200


def bomb(side: int) -> bytes:
    """A valid PNG claiming side x side pixels, a few dozen bytes long."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload).to_bytes(4, "big")
        return len(payload).to_bytes(4, "big") + kind + payload + crc

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "k", "status", "message"),
    [
        (b"", 5, 400, "the upload is empty"),
        (b"just some text, not a picture", 5, 400, "not an image this service reads"),
        (png(IMAGES[3, :, :, 0])[:60], 5, 400, "truncated or damaged"),
        (bomb(5000), 5, 400, "more than the 16,777,216 pixels"),  # Pillow's warning
        (bomb(20000), 5, 400, "more than the 16,777,216 pixels"),  # Pillow's error
        (b"\x89PNG" + bytes(60_000), 5, 413, "larger than 50,000 bytes"),
        (png(IMAGES[3, :, :, 0]), 0, 422, "k: Input should be greater than or equal to 1"),
        (png(IMAGES[3, :, :, 0]), 51, 422, "k: Input should be less than or equal to 50"),
        (png(IMAGES[3, :, :, 0]), "many", 422, "k: Input should be a valid integer"),
    ],
)
def test_bad_searches_get_a_4xx_json_error_and_change_nothing(service, data, k, status, message):
    client, gallery = service
    response = search(client, data, k)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert client.get("/api/health").status_code == 200 and len(gallery) == 200


def test_bad_names_ids_and_labels(service):
    client, gallery = service
    unknown = search(client, png(IMAGES[3, :, :, 0]), name="cats")
    assert (
        unknown.status_code == 404 and "galleries you can search: digits" in unknown.json()["error"]
    )
    assert client.get("/api/galleries/digits/images/999").status_code == 404
    assert client.delete("/api/galleries/digits/images/999").status_code == 404
    files = {"image": ("n.png", png(IMAGES[1, :, :, 0]))}
    bad_label = client.post("/api/galleries/digits/images", files=files, data={"label": "7"})
    assert (
        bad_label.status_code == 400
        and "not one of this gallery's 4 classes" in bad_label.json()["error"]
    )
    assert client.post("/api/galleries/digits/images").status_code == 422
    assert len(gallery) == 200


def test_writes_need_the_token_when_one_is_set(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)))
    gallery = Gallery.build(tmp_path / "digits", pipeline, IMAGES, LABELS)
    settings = replace(config.settings(), galleries_dir=tmp_path, write_token=TOKEN)
    with TestClient(create_app(settings, {"digits": gallery})) as client:
        files = {"image": ("n.png", png(IMAGES[1, :, :, 0]))}
        refused = client.post("/api/galleries/digits/images", files=files)
        assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
        assert client.delete("/api/galleries/digits/images/1").status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert (
            client.post("/api/galleries/digits/images", files=files, headers=headers).status_code
            == 201
        )
        assert search(client, png(IMAGES[1, :, :, 0])).status_code == 200  # reading needs none
    gallery.close()


def test_concurrent_searches_are_batched_and_each_gets_its_own_answer(service):
    client, _ = service
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda row: search(client, png(IMAGES[row, :, :, 0]), k=1 + row % 3), range(48)
            )
        )
    for row, answer in enumerate(answers):
        results = answer.json()["results"]
        assert len(results) == 1 + row % 3 and results[0]["id"] == row


def test_the_file_itself_may_be_the_body(service):
    client, _ = service
    url = "/api/galleries/digits/search?k=3"
    raw = client.post(url, content=png(IMAGES[9, :, :, 0]), headers={"content-type": "image/png"})
    assert raw.status_code == 200 and raw.json()["results"][0]["id"] == 9
    too_big = client.post(url, content=bytes(60_000), headers={"content-type": "image/png"})
    assert too_big.status_code == 413
    empty_form = client.post(url, files={"other": ("x.png", b"123")})
    assert (
        empty_form.status_code == 422
        and "no file field named 'image'" in empty_form.json()["error"]
    )


def test_metrics_count_requests_stages_batches_and_public_gallery_sizes(service):
    client, _ = service
    assert search(client, png(IMAGES[4, :, :, 0])).status_code == 200
    text = client.get("/metrics").text
    assert (
        'aesearch_requests_total{method="POST",route="/api/galleries/{name}/search",status="200"}'
        " 1.0" in text
    )
    for stage in ("read_body", "queue", "decode", "encode", "search", "respond"):
        assert f'aesearch_search_stage_seconds_count{{stage="{stage}"}} 1.0' in text
    assert "aesearch_search_batch_size_count 1.0" in text
    assert 'aesearch_gallery_items{gallery="digits"} 200.0' in text


def test_galleries_are_listed_default_first_with_a_title(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)))
    galleries = {
        name: Gallery.build(tmp_path / name, pipeline, IMAGES, LABELS, title=title)
        for name, title in (("alpha", ""), ("mnist-best", "Handwritten digits (MNIST)"))
    }
    with TestClient(
        create_app(replace(config.settings(), galleries_dir=tmp_path), galleries)
    ) as client:
        listed = client.get("/api/galleries").json()
        assert [(g["name"], g["title"]) for g in listed] == [
            ("mnist-best", "Handwritten digits (MNIST)"),
            ("alpha", "alpha"),
        ]
        assert client.get("/docs").status_code == 200
        assert "/static-offline-docs/swagger-ui-bundle.js" in client.get("/docs").text
    for gallery in galleries.values():
        gallery.close()


def test_an_app_served_again_after_it_stopped_still_answers(tmp_path):
    """A notebook serves one app twice (two ``serving_in_background`` blocks): stopping the
    first closed the tenants file and the batchers, and the second start must open them anew."""
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)), whiten_dims=16, expansion_k=3)
    gallery = Gallery.build(tmp_path / "digits", pipeline, IMAGES, LABELS)
    app = create_app(replace(config.settings(), galleries_dir=tmp_path), {"digits": gallery})
    for _ in range(2):
        with TestClient(app) as client:
            assert search(client, png(IMAGES[3, :, :, 0]), k=1).json()["results"][0]["id"] == 3
            assert search(client, b"not an image").status_code == 400
    gallery.close()
