"""Benchmark: the service's container image, its size, and how soon a container answers.

Usage: ``python benchmarks/container_image.py [--gallery mnist-best] [--starts 3]
[--output results/container_image.json]``

Builds the image with ``make image`` (``FROM`` ``$AESEARCH_TEST_BASE_IMAGE`` where it is set, as
in the tests: see ``tests/container_images.py``) and measures, with podman:

- the image's size, its base's, the largest packages installed in it, and the build's time
  (without the layer cache, so every package is downloaded and installed);
- a cold start, ``--starts`` times: a new container over a volume that holds the gallery
  (built on this machine first if missing), from ``podman run`` until ``/api/health`` answers,
  then the first search of an uploaded test image;
- a restart: ``podman restart`` of that container until it answers again;
- ``compose.yaml`` with the Milvus server the tests run (``tests/containers/compose.test.yaml``):
  the Milvus container from ``up`` until its health check passes, then, with the gallery built
  into that server from this machine, the service container from ``up`` until it answers.

What a first start costs where the volume holds no gallery is the gallery's build (training its
encoder): ``results/training_speed.json`` has that time. Every container listens on 127.0.0.1
and is removed at the end, with its volumes.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.search.registry import pipeline_recipe
from aesearch_utils.service.server import free_port
from aesearch_utils.store.gallery import build_registered_gallery

sys.path.insert(0, str(config.project_root() / "tests"))
from conftest import png_bytes
from container_images import (  # the tests' podman helpers
    MILVUS_TEST_IMAGE,
    VOLUME_PATH,
    ComposeProject,
    base_image,
    build_image,
    fill_volume,
    image_size,
    podman,
    removed_volume,
    service_container,
    wait_until_answering,
    wait_until_healthy,
)

IMAGE = "localhost/aesearch:benchmark"
TIMEOUT_S = 300


def first_search_ms(port: int, gallery: str, upload: bytes) -> float:
    started = time.perf_counter()
    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/galleries/{gallery}/search?k=10",
        files={"image": ("query.png", upload)}, timeout=60,
    )  # fmt: skip
    answer.raise_for_status()
    return (time.perf_counter() - started) * 1000


def largest_packages(image: str, count: int = 8) -> list[dict]:
    """The biggest folders of the image's site-packages, in MiB."""
    listing = podman(
        "run", "--rm", "--entrypoint", "sh", image, "-c",
        "du -sm /opt/aesearch/lib/python3*/site-packages/* | sort -rn | head -n " + str(count),
    )  # fmt: skip
    return [
        {"package": Path(path).name, "mib": int(size)}
        for size, path in (line.split("\t") for line in listing.splitlines())
    ]


def cold_starts(gallery_folder: Path, starts: int, upload: bytes, token: str) -> dict:
    """Fresh containers over a volume holding the gallery: start, first search, one restart."""
    runs = []
    with removed_volume() as volume:
        fill_volume(IMAGE, volume, gallery_folder.parent)
        for _ in range(starts):
            port = free_port()
            started = time.perf_counter()
            with service_container(IMAGE, volume, port, {"AESEARCH_WRITE_TOKEN": token}) as name:
                wait_until_answering(port, TIMEOUT_S, name)
                runs.append({
                    "answering_s": time.perf_counter() - started,
                    "first_search_ms": first_search_ms(port, gallery_folder.name, upload),
                })  # fmt: skip
                restarted = time.perf_counter()
                podman("restart", "-t", "30", name)
                wait_until_answering(port, TIMEOUT_S, name)
                runs[-1]["restart_s"] = time.perf_counter() - restarted
    return {
        "runs": runs,
        "median_answering_s": statistics.median(run["answering_s"] for run in runs),
        "median_first_search_ms": statistics.median(run["first_search_ms"] for run in runs),
        "median_restart_s": statistics.median(run["restart_s"] for run in runs),
    }


def compose_start(gallery: str, upload: bytes, token: str) -> dict:
    """The compose pair: Milvus up to healthy, the gallery built into it, the service up to
    answering, its first search."""
    milvus_port, port = free_port(), free_port()
    environment = {"AESEARCH_WRITE_TOKEN": token, "AESEARCH_PORT": str(port),
                   "MILVUS_PORT": str(milvus_port)}  # fmt: skip
    with ComposeProject(environment) as compose, tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        compose("up", "-d", "milvus")
        wait_until_healthy(compose.container("milvus"), TIMEOUT_S)
        milvus_healthy = time.perf_counter() - started
        galleries = Path(scratch) / "galleries"
        build_registered_gallery(
            galleries / gallery, gallery, f"http://127.0.0.1:{milvus_port}"
        ).close()  # fmt: skip
        fill_volume(IMAGE, compose.volume("aesearch"), galleries)
        started = time.perf_counter()
        compose("up", "-d", "aesearch")
        wait_until_answering(port, TIMEOUT_S, compose.container("aesearch"))
        return {
            "milvus_healthy_s": milvus_healthy,
            "service_answering_s": time.perf_counter() - started,
            "first_search_ms": first_search_ms(port, gallery, upload),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", default="mnist-best")
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--output", default="results/container_image.json")
    arguments = parser.parse_args()

    folder = config.galleries_dir() / arguments.gallery
    if not (folder / "gallery.json").is_file():
        build_registered_gallery(folder, arguments.gallery).close()
    dataset = load_dataset(pipeline_recipe(arguments.gallery).dataset)
    upload = png_bytes(dataset.x_test[0])
    token = secrets.token_urlsafe(24)

    build_s = build_image(IMAGE, flags="--no-cache")  # the whole build, as on a new machine
    build_image(MILVUS_TEST_IMAGE, "tests/containers/milvus.Containerfile", "tests/containers")
    result = {
        "image": {
            "base": base_image(),
            "bytes": image_size(IMAGE),
            "base_bytes": image_size(base_image()),
            "build_s": build_s,
            "largest_packages_mib": largest_packages(IMAGE),
            "volume": VOLUME_PATH,
        },
        "gallery": arguments.gallery,
        "cold_start": cold_starts(folder, arguments.starts, upload, token),
        "compose_with_milvus": compose_start(arguments.gallery, upload, token),
        "machine": machine_description(),
        "measured": time.strftime("%Y-%m-%d"),
    }
    write_json(arguments.output, result)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
