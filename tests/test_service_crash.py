"""What the service acknowledged survives ``kill -9``: a client adds images in a loop, the server
process is killed with SIGKILL and restarted, and every acknowledged image is there, found first
by a search with itself; with the record in SQLite, and in a Milvus server. The server listens on
127.0.0.1 only; every loop is bounded in time."""

import os
import signal
import threading
import time

import httpx
import numpy as np
import pytest
from conftest import png_bytes, start_service

from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.service.server import free_port
from aesearch_utils.store import Gallery

RNG = np.random.default_rng(2)


@pytest.mark.parametrize("record", ["sqlite", "milvus"])
def test_acknowledged_additions_survive_kill_9_of_the_server(tmp_path, request, record):
    vectors_uri = request.getfixturevalue("milvus_uri") if record == "milvus" else ""
    images = RNG.integers(0, 256, (300, 6, 6, 1), dtype=np.uint8)
    images[:, [0, -1], :] = images[:, :, [0, -1]] = 0  # dark borders: never inverted
    pipeline = SearchPipeline(PixelEncoder((6, 6, 1)), whiten_dims=16, expansion_k=3)
    galleries = tmp_path / "galleries"
    Gallery.build(
        galleries / "toy", pipeline, images, np.arange(300) % 3, vectors_uri=vectors_uri or None
    ).close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/galleries/toy"
    server = start_service(galleries, port, vectors_uri=vectors_uri)
    acknowledged: dict[int, np.ndarray] = {}
    stop = threading.Event()

    def add_in_a_loop() -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(2000):  # bounded, and stopped by the kill long before
                if stop.is_set():
                    return
                image = RNG.integers(0, 256, (6, 6, 1), dtype=np.uint8)
                image[[0, -1], :] = image[:, [0, -1]] = 0
                try:
                    response = client.post(
                        f"{url}/images", files={"image": ("a.png", png_bytes(image))}
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acknowledged[response.json()["id"]] = image

    try:
        adder = threading.Thread(target=add_in_a_loop)
        adder.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        stop.set()
        adder.join(10)
        assert len(acknowledged) >= 20
        server = start_service(galleries, port, vectors_uri=vectors_uri)
        with httpx.Client(timeout=10) as client:
            count = client.get(f"http://127.0.0.1:{port}/api/galleries").json()[0]["items"]
            assert count >= 300 + len(acknowledged)
            for item, image in acknowledged.items():
                found = client.post(
                    f"{url}/search?k=1", files={"image": ("q.png", png_bytes(image))}
                )
                assert found.json()["results"][0]["id"] == item
    finally:
        server.kill()
        server.wait(10)
        if vectors_uri:
            Gallery.open(galleries / "toy", vectors_uri).remove()
