"""The service as a container, as a user runs it: the image that ``make image`` builds from the
Containerfile, started with a token on a loopback port over a volume; then ``compose.yaml``,
the service beside a Milvus server. Each searches an uploaded digit, adds one, is restarted and
finds the addition. Skipped where podman is missing (with the command that installs it); every
podman call is bounded in time, and everything a test started is removed."""

import secrets
import shutil
import subprocess

import httpx
import numpy as np
import pytest
from conftest import png_bytes
from container_images import (
    INSTALL_HINT,
    MILVUS_TEST_IMAGE,
    ComposeProject,
    build_image,
    fill_volume,
    podman,
    removed_volume,
    service_container,
    wait_until_answering,
    wait_until_healthy,
)

from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.server import free_port
from aesearch_utils.store import Gallery

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(shutil.which("podman") is None, reason=INSTALL_HINT),
]

IMAGE = "localhost/aesearch:test"
START_TIMEOUT_S = 120
SHAPE = (28, 28, 1)


def digits(count: int, seed: int) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 256, (count, *SHAPE), dtype=np.uint8)
    images[:, :4] = images[:, -4:] = images[:, :, :4] = images[:, :, -4:] = 0  # never inverted
    return images


GALLERY = digits(200, seed=0)


@pytest.fixture(scope="module")
def image() -> str:
    build_image(IMAGE)
    return IMAGE


def build_toy_gallery(galleries, vectors_uri: str | None = None) -> None:
    pipeline = SearchPipeline(PixelEncoder(SHAPE), whiten_dims=16)
    Gallery.build(galleries / "digits", pipeline, GALLERY, np.arange(len(GALLERY)) % 10,
                  vectors_uri=vectors_uri).close()  # fmt: skip


def search_add_restart_find(port: int, token: str, restart) -> None:
    """Search with a gallery image, add a new one, ``restart()`` the service, find it first."""
    url = f"http://127.0.0.1:{port}/api/galleries/digits"
    with httpx.Client(timeout=30) as client:
        found = client.post(f"{url}/search?k=3", files={"image": ("q.png", png_bytes(GALLERY[7]))})
        assert found.status_code == 200, found.text
        assert found.json()["results"][0]["id"] == 7
        addition = digits(1, seed=1)[0]
        refused = client.post(f"{url}/images", files={"image": ("a.png", png_bytes(addition))})
        assert refused.status_code == 401, refused.text
        added = client.post(
            f"{url}/images", files={"image": ("a.png", png_bytes(addition))},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert added.status_code == 201, added.text
    restart()
    wait_until_answering(port, START_TIMEOUT_S)
    with httpx.Client(timeout=30) as client:
        assert client.get(url).json()["items"] == len(GALLERY) + 1
        found = client.post(f"{url}/search?k=1", files={"image": ("q.png", png_bytes(addition))})
        assert found.json()["results"][0]["id"] == added.json()["id"]


def test_the_image_refuses_to_listen_without_a_token(image):
    result = subprocess.run(
        ["podman", "run", "--rm", image], capture_output=True, text=True, timeout=120
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 with no token" in result.stderr


def test_the_image_serves_a_volume_and_keeps_an_addition_over_a_restart(image, tmp_path):
    build_toy_gallery(tmp_path / "galleries")
    token = secrets.token_urlsafe(24)
    port = free_port()
    with removed_volume() as volume:
        fill_volume(image, volume, tmp_path / "galleries")
        with service_container(image, volume, port, {"AESEARCH_WRITE_TOKEN": token}) as name:
            wait_until_answering(port, START_TIMEOUT_S, name)
            wait_until_healthy(name, 30)  # the Containerfile's HEALTHCHECK passes
            assert podman("exec", name, "id", "-u") != "0"
            search_add_restart_find(port, token, lambda: podman("restart", "-t", "30", name))


def test_compose_serves_a_gallery_in_its_milvus_and_keeps_an_addition(image, tmp_path):
    build_image(MILVUS_TEST_IMAGE, "tests/containers/milvus.Containerfile", "tests/containers")
    token = secrets.token_urlsafe(24)
    milvus_port, port = free_port(), free_port()
    environment = {
        "AESEARCH_WRITE_TOKEN": token,
        "AESEARCH_PORT": str(port),
        "MILVUS_PORT": str(milvus_port),
    }
    with ComposeProject(environment) as compose:
        compose("up", "-d", "milvus")
        wait_until_healthy(compose.container("milvus"), START_TIMEOUT_S)
        build_toy_gallery(tmp_path / "galleries", f"http://127.0.0.1:{milvus_port}")
        fill_volume(image, compose.volume("aesearch"), tmp_path / "galleries")
        compose("up", "-d", "aesearch")
        service = compose.container("aesearch")
        wait_until_answering(port, START_TIMEOUT_S, service)
        wait_until_healthy(service, 30)
        search_add_restart_find(port, token, lambda: compose("restart", "aesearch"))
