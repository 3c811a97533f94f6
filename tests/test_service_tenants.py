"""Tenants as a hostile customer would meet them: every route with another tenant's token, a
revoked token, no token and a malformed header; a private gallery answered exactly as one that
does not exist; and every gallery unchanged afterwards."""

import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from test_service_api import IMAGES, LABELS, png

from aesearch_utils import config
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.app import create_app
from aesearch_utils.store import Gallery
from aesearch_utils.store.tenants import TenantRegistry

QUERY = png(IMAGES[5, :, :, 0])


@pytest.fixture
def tenants(tmp_path):
    registry = TenantRegistry.in_folder(tmp_path)
    for name in ("acme", "globex"):
        registry.add_tenant(name)
    tokens = {name: registry.add_token(name) for name in ("acme", "globex", "admin")}
    revoked = registry.add_token("acme")
    registry.revoke(revoked.split("_")[1])
    registry.close()
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)))
    galleries = {
        "shared": Gallery.build(tmp_path / "shared", pipeline, IMAGES, LABELS),
        "acme-private": Gallery.build(
            tmp_path / "acme-private", pipeline, IMAGES, LABELS, owner="acme",
            visibility="private",
        ),
    }  # fmt: skip
    settings = replace(config.settings(), galleries_dir=tmp_path)
    with TestClient(create_app(settings, galleries)) as client:
        yield client, tokens, revoked, galleries
    for gallery in galleries.values():
        gallery.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def routes(name: str) -> list[tuple[str, str, dict]]:
    """Every route that names a gallery, with a valid request body."""
    files = {"files": {"image": ("q.png", QUERY)}}
    return [
        ("GET", f"/api/galleries/{name}", {}),
        ("POST", f"/api/galleries/{name}/search?k=3", files),
        ("GET", f"/api/galleries/{name}/images/5", {}),
        ("POST", f"/api/galleries/{name}/images", files),
        ("DELETE", f"/api/galleries/{name}/images/5", {}),
        ("PATCH", f"/api/galleries/{name}", {"json": {"visibility": "public"}}),
        ("DELETE", f"/api/galleries/{name}", {}),
    ]


def test_the_owner_reaches_a_private_gallery(tenants):
    client, tokens, _, galleries = tenants
    acme = bearer(tokens["acme"])
    names = [g["name"] for g in client.get("/api/galleries", headers=acme).json()]
    assert names == ["acme-private", "shared"]  # by name (no default gallery among them)
    found = client.post("/api/galleries/acme-private/search?k=3", headers=acme,
                        files={"image": ("q.png", QUERY)})  # fmt: skip
    assert found.status_code == 200 and found.json()["results"][0]["id"] == 5
    assert client.get("/api/galleries/acme-private/images/5", headers=acme).status_code == 200
    added = client.post("/api/galleries/acme-private/images", headers=acme,
                        files={"image": ("q.png", QUERY)})  # fmt: skip
    assert added.status_code == 201
    assert client.get("/api/tenant", headers=acme).json()["tenant"] == "acme"
    assert len(galleries["acme-private"]) == 201


@pytest.mark.parametrize("who", ["globex", "admin", "nobody"])
def test_another_tenant_or_nobody_cannot_tell_a_private_gallery_from_a_missing_one(tenants, who):
    client, tokens, _, galleries = tenants
    headers = bearer(tokens[who]) if who in tokens else {}
    assert [g["name"] for g in client.get("/api/galleries", headers=headers).json()] == ["shared"]
    for (method, url, body), (_, missing_url, _) in zip(
        routes("acme-private"), routes("acme-missing"), strict=True
    ):
        private = client.request(method, url, headers=headers, **body)
        missing = client.request(method, missing_url, headers=headers, **body)
        assert private.status_code == missing.status_code == 404, (method, url)
        assert private.json()["error"] == missing.json()["error"].replace(
            "acme-missing", "acme-private"
        )
    assert len(galleries["acme-private"]) == 200 and (galleries["acme-private"].path).exists()


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Bearer aes_000000000000_" + "x" * 43, 401),  # well formed, unknown
        ("Basic dXNlcjpwYXNz", 401),
        ("Bearer", 401),
        ("Bearer two words", 401),
        ("token-without-scheme", 401),
    ],
)
def test_malformed_and_unknown_tokens_are_401_on_every_route(tenants, header, status):
    client, _, _, galleries = tenants
    for name in ("shared", "acme-private", "acme-missing"):
        for method, url, body in routes(name):
            answer = client.request(method, url, headers={"Authorization": header}, **body)
            assert answer.status_code == status, (method, url)
            assert "error" in answer.json() and answer.headers["www-authenticate"] == "Bearer"
    assert all(len(gallery) == 200 for gallery in galleries.values())


def test_a_revoked_token_stops_working_without_a_restart(tenants, tmp_path):
    client, tokens, revoked, _ = tenants
    assert client.get("/api/tenant", headers=bearer(revoked)).status_code == 401
    acme = bearer(tokens["acme"])
    assert client.get("/api/galleries/acme-private", headers=acme).status_code == 200
    registry = TenantRegistry.in_folder(tmp_path)  # as `aesearch token revoke` would
    registry.revoke(tokens["acme"].split("_")[1])
    registry.close()
    answer = client.get("/api/galleries/acme-private", headers=acme)
    assert answer.status_code == 401 and "unknown or revoked" in answer.json()["error"]


def test_public_galleries_are_read_by_anyone_and_changed_by_their_owner_only(tenants):
    client, tokens, _, galleries = tenants
    files = {"image": ("q.png", QUERY)}
    assert client.post("/api/galleries/shared/search?k=3", files=files).status_code == 200
    assert client.get("/api/galleries/shared/images/5").status_code == 200
    nobody = client.post("/api/galleries/shared/images", files=files)
    assert nobody.status_code == 401 and "owner's token" in nobody.json()["error"]
    other = client.delete("/api/galleries/shared/images/5", headers=bearer(tokens["acme"]))
    assert other.status_code == 403 and "another tenant" in other.json()["error"]
    assert (
        client.delete("/api/galleries/shared", headers=bearer(tokens["globex"])).status_code == 403
    )
    assert len(galleries["shared"]) == 200
    admin = bearer(tokens["admin"])
    assert client.delete("/api/galleries/shared/images/5", headers=admin).status_code == 200


def test_sharing_a_gallery_and_deleting_it(tenants):
    client, tokens, _, galleries = tenants
    acme = bearer(tokens["acme"])
    shared = client.patch("/api/galleries/acme-private", json={"visibility": "public"},
                          headers=acme)  # fmt: skip
    assert shared.status_code == 200 and shared.json()["visibility"] == "public"
    assert client.get("/api/galleries/acme-private").status_code == 200  # now anyone's to read
    written = json.loads((galleries["acme-private"].path / "gallery.json").read_text())
    assert written["visibility"] == "public" and written["owner"] == "acme"  # what a reopen reads
    bad = client.patch("/api/galleries/acme-private", json={"visibility": "everyone"}, headers=acme)
    assert bad.status_code == 422 and "visibility" in bad.json()["error"]
    path = galleries["acme-private"].path
    assert client.delete("/api/galleries/acme-private", headers=acme).json() == {
        "deleted": "acme-private"
    }
    assert not path.exists() and not list(path.parent.glob(".removing-*"))
    assert client.get("/api/galleries/acme-private", headers=acme).status_code == 404


def test_tokens_are_stored_as_digests_only(tmp_path):
    registry = TenantRegistry.in_folder(tmp_path)
    token = registry.add_token("admin")
    registry.close()
    stored = (tmp_path / "tenants.sqlite").read_bytes()
    secret = token.split("_", 2)[2]
    assert secret.encode() not in stored and token.encode() not in stored


def test_with_no_token_anywhere_the_one_user_may_do_everything(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((8, 8, 1)))
    gallery = Gallery.build(tmp_path / "mine", pipeline, IMAGES, LABELS, owner="acme",
                            visibility="private")  # fmt: skip
    settings = replace(config.settings(), galleries_dir=tmp_path, write_token="")
    with TestClient(create_app(settings, {"mine": gallery})) as client:
        assert client.get("/api/galleries/mine").status_code == 200
        files = {"image": ("q.png", QUERY)}
        assert client.post("/api/galleries/mine/images", files=files).status_code == 201
    gallery.close()


def test_the_cli_makes_tenants_and_tokens(tmp_path, monkeypatch, capsys):
    from aesearch_utils.service.cli import main

    monkeypatch.setenv("AESEARCH_GALLERIES_DIR", str(tmp_path))
    assert main(["tenant", "add", "acme"]) == 0
    assert main(["tenant", "add", "Bad Name"]) == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert main(["token", "add", "nobody"]) == 2
    assert "aesearch tenant add nobody" in capsys.readouterr().err
    assert main(["token", "add", "acme"]) == 0
    token = capsys.readouterr().out.strip()
    registry = TenantRegistry.in_folder(tmp_path)
    assert registry.tenant_of(token) == "acme"
    assert main(["token", "list"]) == 0
    key = token.split("_")[1]
    listing = capsys.readouterr().out
    assert key in listing and token not in listing
    assert main(["token", "revoke", key]) == 0
    assert registry.tenant_of(token) is None
    registry.close()
    assert main(["token", "revoke", "000000000000"]) == 2
    assert "no token with key" in capsys.readouterr().err


def test_serve_refuses_another_address_until_a_token_exists(tmp_path, monkeypatch, capsys):
    from aesearch_utils.service.cli import main

    monkeypatch.setenv("AESEARCH_GALLERIES_DIR", str(tmp_path))
    monkeypatch.delenv("AESEARCH_WRITE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "aesearch token add admin" in capsys.readouterr().err
    monkeypatch.setenv("AESEARCH_WRITE_TOKEN", "short")
    assert main(["serve", "--host", "0.0.0.0", "--gallery", "mnist-best"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
