"""Fixtures that write small datasets in every format the loaders read."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")  # tests draw figures without a display


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzip-compressed by default."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        size.to_bytes(4, "big") for size in array.shape
    )
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def labelled_images(count: int, shape: tuple[int, ...], classes: int = 10, seed: int = 0):
    """Random images whose first pixel equals 10 x label, so a label can be checked."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    images = rng.integers(0, 256, size=(count, *shape), dtype=np.uint8)
    images.reshape(count, -1)[:, 0] = labels * 10
    return images, labels


def write_mnist_idx_folder(folder: Path, train: int = 40, test: int = 20, compress=True):
    x_train, y_train = labelled_images(train, (28, 28), seed=1)
    x_test, y_test = labelled_images(test, (28, 28), seed=2)
    for stem, array in (
        ("train-images-idx3-ubyte", x_train),
        ("train-labels-idx1-ubyte", y_train),
        ("t10k-images-idx3-ubyte", x_test),
        ("t10k-labels-idx1-ubyte", y_test),
    ):
        write_idx(folder / (stem + (".gz" if compress else "")), array, compress)
    return x_train, y_train, x_test, y_test


def write_cifar_batches(folder: Path, per_batch: int = 10) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in [(f"data_batch_{n}", n) for n in range(1, 6)] + [("test_batch", 9)]:
        images, labels = labelled_images(per_batch, (32, 32, 3), seed=seed)
        channel_first = images.transpose(0, 3, 1, 2).reshape(per_batch, -1)
        batch = {b"data": channel_first, b"labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))


def scribble_over_pages(database: Path, pages: Callable[[int], Iterable[int]]) -> None:
    """Overwrite the first 16 bytes of some pages of a SQLite file (``pages(page_count)``), as a
    failing disk would, once its write-ahead log is folded into it."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        count = connection.execute("PRAGMA page_count").fetchone()[0]
    data = bytearray(database.read_bytes())
    for page in pages(count):
        data[page * page_size : page * page_size + 16] = b"\xff" * 16
    database.write_bytes(bytes(data))


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.squeeze()).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_tree(root: Path, classes: list[str], per_class: int, size=(32, 32), splits=True):
    """``root/{train,test}/<class>/<n>.png`` with a flat colour of 10 x class index."""
    for split in ("train", "test") if splits else ("",):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(per_class):
                image = np.full((*size, 3), index * 10, dtype=np.uint8)
                (folder / f"{number}.png").write_bytes(png_bytes(image))


def make_tar_gz(source: Path, archive: Path, top_folder: str) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=top_folder)
    return archive


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets"
    folder.mkdir()
    return folder


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def start_service(
    galleries: Path, port: int, timeout: float = 60, vectors_uri: str = ""
) -> subprocess.Popen:
    """``aesearch serve`` on 127.0.0.1:``port`` over the galleries in ``galleries`` (their
    vectors at ``vectors_uri``), once it answers ``/api/health``; the caller kills it."""
    environment = os.environ | {
        "AESEARCH_GALLERIES_DIR": str(galleries),
        "AESEARCH_VECTORS_URI": vectors_uri,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "aesearch_utils.service.cli", "serve", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError(f"the service did not start within {timeout:.0f} s")


def started_milvus(folder: Path):
    """A real Milvus server on free ports of 127.0.0.1, with its data in ``folder``."""
    pytest.importorskip("milvus", reason="the dev extra installs it: pip install 'milvus==2.3.5'")
    from milvus_server import MilvusTestServer

    server = MilvusTestServer(folder)
    server.start()
    return server


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """The URI of the server the session's Milvus tests share (see milvus_server.py)."""
    server = started_milvus(tmp_path_factory.mktemp("milvus"))
    yield server.uri
    server.stop()


@pytest.fixture
def milvus_server(tmp_path):
    """A server of the test's own, to kill and start again."""
    server = started_milvus(tmp_path / "milvus")
    yield server
    server.stop()
