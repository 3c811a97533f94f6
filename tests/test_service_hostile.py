"""What a hostile or careless user found, each fixed: script in names, weak tokens, ids out
of range, errors of other shapes, damaged gallery files, folders that are not galleries,
slow clients and abandoned uploads."""

import logging
import socket
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import scribble_over_pages, write_image_tree
from fastapi.testclient import TestClient
from test_service_api import IMAGES, LABELS, png

from aesearch_utils import config
from aesearch_utils.errors import CorruptDataError, InvalidInputError
from aesearch_utils.io import current_snapshot
from aesearch_utils.models import build_autoencoder
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.search.encoders import LayerEncoder
from aesearch_utils.service.app import create_app
from aesearch_utils.service.routers.pages import STATIC
from aesearch_utils.service.server import serving_in_background
from aesearch_utils.service.state import open_galleries
from aesearch_utils.store import Gallery


def settings_for(folder, **changes):
    return replace(config.settings(), **{"galleries_dir": folder, "write_token": ""} | changes)


@pytest.fixture
def digits(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)), whiten_dims=8)
    gallery = Gallery.build(tmp_path / "digits", pipeline, IMAGES, LABELS, class_names="abcd")
    yield gallery
    gallery.close()


def test_the_page_runs_no_inline_script_and_sets_names_as_text(digits, tmp_path):
    with TestClient(create_app(settings_for(tmp_path), {"digits": digits})) as client:
        page = client.get("/")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in page.text and "style=" not in page.text
        assert client.get("/static/app.js").status_code == 200
        assert "content-security-policy" not in client.get("/docs").headers  # Swagger's own
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


@pytest.mark.parametrize("token", ["", " ", "short-token", " a-token-long-enough-but-padded "])
def test_a_weak_write_token_is_refused_with_how_to_make_one(tmp_path, token):
    if not token:
        create_app(settings_for(tmp_path))  # no token: the one-user service
        return
    with pytest.raises(InvalidInputError, match=r"at least 16 characters.*secrets\.token_urlsafe"):
        create_app(settings_for(tmp_path, write_token=token))


@pytest.mark.parametrize("item", [2**63, 2**64 + 5, -1])
def test_ids_out_of_range_are_a_json_422(digits, tmp_path, item):
    with TestClient(create_app(settings_for(tmp_path), {"digits": digits})) as client:
        for method in ("GET", "DELETE"):
            answer = client.request(method, f"/api/galleries/digits/images/{item}")
            assert answer.status_code == 422 and "item" in answer.json()["error"]
    assert len(digits) == 200


def test_every_status_is_the_same_json_shape(digits, tmp_path, monkeypatch):
    app = create_app(settings_for(tmp_path), {"digits": digits})
    with TestClient(app, raise_server_exceptions=False) as client:
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404 and "/docs lists them" in missing.json()["error"]
        wrong_method = client.put("/api/galleries/digits/images/1")
        assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"error"}
        monkeypatch.setattr(digits, "image", lambda item: 1 / 0)
        failed = client.get("/api/galleries/digits/images/1")
        assert failed.status_code == 500 and "log says why" in failed.json()["error"]
        assert client.get("/api/health").status_code == 200


def damage_keras_file(path):
    """Flip bytes in the middle of a zip member: its CRC no longer matches."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def test_damaged_gallery_files_are_errors_that_name_the_file(tmp_path):
    model = build_autoencoder("dense", (8, 8, 1), 4)
    encoder = LayerEncoder.from_autoencoder(model, "latent")
    pipeline = SearchPipeline(encoder, whiten_dims=2)
    Gallery.build(tmp_path / "good", pipeline, IMAGES, LABELS).close()

    def broken(change) -> str:
        folder = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        import shutil

        shutil.copytree(tmp_path / "good", folder)
        change(folder, current_snapshot(folder / "pipeline"))
        with pytest.raises(CorruptDataError) as raised:
            Gallery.open(folder)
        return str(raised.value)

    assert "encoder.keras" in broken(lambda f, s: damage_keras_file(s / "encoder.keras"))
    assert "whitening.npz" in broken(lambda f, s: (s / "whitening.npz").write_bytes(b"PK\3\4 x"))
    assert "whitening.npz" in broken(lambda f, s: (s / "whitening.npz").unlink())
    assert "record.sqlite" in broken(lambda f, s: (f / "record.sqlite").write_bytes(b"x" * 4096))
    assert "gallery.json" in broken(lambda f, s: (f / "gallery.json").write_text("{"))


def test_a_record_with_a_broken_b_tree_is_not_served(digits, tmp_path):
    digits.close()
    # some of the table's interior pages
    scribble_over_pages(digits.path / "record.sqlite", lambda count: range(2, count, 7))
    with pytest.raises(CorruptDataError, match=r"record\.sqlite"):
        Gallery.open(digits.path)


def test_folders_that_are_not_galleries_are_named_and_copies_keep_their_folder_name(
    digits, tmp_path, caplog
):
    import shutil

    digits.close()
    shutil.copytree(digits.path, tmp_path / "digits-copy")
    (tmp_path / "notes").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "gallery.json").write_text("{")
    with caplog.at_level(logging.WARNING, "aesearch.service"):
        galleries, waiting = open_galleries(settings_for(tmp_path))
    assert sorted(galleries) == ["digits", "digits-copy"] and not waiting
    warnings = "\n".join(record.getMessage() for record in caplog.records)
    assert "notes is not served: it has no gallery.json" in warnings
    assert "broken is not served" in warnings and "gallery.json" in warnings
    with TestClient(create_app(settings_for(tmp_path), galleries)) as client:
        names = [info["name"] for info in client.get("/api/galleries").json()]
        assert names == ["digits", "digits-copy"]
    for gallery in galleries.values():
        gallery.close()


def test_serve_says_why_it_cannot_build_into_a_folder_that_is_not_a_gallery(
    tmp_path, monkeypatch, capsys
):
    from aesearch_utils.service.cli import main

    monkeypatch.setenv("AESEARCH_GALLERIES_DIR", str(tmp_path))
    (tmp_path / "mnist-best").mkdir()
    assert main(["serve"]) == 2
    assert "exists but is not a gallery" in capsys.readouterr().err


def test_a_gallery_is_deleted_by_the_cli(digits, tmp_path, monkeypatch, capsys):
    from aesearch_utils.service.cli import main

    monkeypatch.setenv("AESEARCH_GALLERIES_DIR", str(tmp_path))
    assert main(["gallery", "delete", "digits"]) == 2  # open here, as a service would hold it
    assert "DELETE /api/galleries/digits" in capsys.readouterr().err
    assert digits.path.exists() and len(digits) > 0
    digits.close()
    assert main(["gallery", "delete", "digits"]) == 0
    assert not digits.path.exists()
    assert main(["gallery", "delete", "digits"]) == 2


def test_a_folder_gallery_is_built_while_its_template_is_served(tmp_path, monkeypatch, capsys):
    """The template's encoder is read from its files: the service holding the template open does
    not stop ``aesearch build --folder``."""
    from aesearch_utils.service.cli import main

    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)), whiten_dims=8)
    served = Gallery.build(tmp_path / "mnist-best", pipeline, IMAGES, LABELS)
    write_image_tree(tmp_path / "photos", ["cats", "dogs"], per_class=3, splits=False)
    monkeypatch.setenv("AESEARCH_GALLERIES_DIR", str(tmp_path))
    arguments = ["build", "pets", "--pipeline", "mnist-best", "--folder", str(tmp_path / "photos")]
    assert main(arguments) == 0, capsys.readouterr().err
    assert "6 images" in capsys.readouterr().out
    served.close()


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_slow_clients_are_cut_off_and_the_service_keeps_answering(digits, tmp_path, caplog):
    settings = settings_for(tmp_path, body_timeout_s=0.5)
    app = create_app(settings, {"digits": digits})
    with (
        caplog.at_level(logging.INFO, "aesearch.service"),
        serving_in_background(app, header_timeout_s=0.5) as url,
    ):
        silent, half_headers, slow_body, leaving = (connect(url) for _ in range(4))
        half_headers.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        query = png(IMAGES[3, :, :, 0])
        head = (
            "POST /api/galleries/digits/search HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: image/png\r\nContent-Length: {}\r\n\r\n"
        )
        slow_body.sendall(head.format(len(query)).encode() + query[:10])
        leaving.sendall(head.format(len(query)).encode() + query[:10])
        leaving.close()
        start = time.monotonic()
        assert silent.recv(100) == b"" and half_headers.recv(100) == b""  # closed by the server
        assert time.monotonic() - start < 3
        answer = slow_body.recv(1000)
        assert b" 408 " in answer.split(b"\r\n")[0] and b"send it in one go" in answer
        import httpx

        found = httpx.post(f"{url}/api/galleries/digits/search?k=1", content=query,
                           headers={"content-type": "image/png"})  # fmt: skip
        assert found.status_code == 200 and found.json()["results"][0]["id"] == 3
    messages = [record for record in caplog.records if record.name == "aesearch.service"]
    assert any("headers took over" in record.getMessage() for record in messages)
    assert sum("client left" in record.getMessage() for record in messages) == 1
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(digits) == 200 and np.all(digits.search(IMAGES[3]).ids[0, 0] == 3)
