"""Benchmark: the search service under load, beside the same gallery searched in-process.

Usage: ``python benchmarks/service_load.py [--gallery mnist-best] [--clients 32] [--seconds 60]
[--output results/service_load.json]``

Starts ``aesearch serve`` on 127.0.0.1 (a free port) over the gallery
(built first if missing), then ``--clients`` concurrent clients (one asyncio
process, httpx) each upload a test image, wait for the answer, and send the
next, for ``--seconds``: searches per second, latency percentiles, errors.
Before that, one thread searches the same gallery in-process, one image at
a time, for the same kind of query (decoded PNG in, top 10 out): the
in-process rate the service is compared with. Everything runs on this
machine: the clients share its cores with the server. The load only ever
targets 127.0.0.1, and stops by itself when the time is up.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.service.server import free_port
from aesearch_utils.service.uploads import decode_upload
from aesearch_utils.store.gallery import Gallery, build_registered_gallery


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()


def in_process_rate(gallery: Gallery, uploads: list[bytes], seconds: float) -> float:
    """Searches per second, one at a time in one thread: decode, encode, search."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        image = decode_upload(uploads[done % len(uploads)], gallery.image_shape).image
        gallery.search(image, 10)
        done += 1
    return done / (time.perf_counter() - start)


async def load(url: str, uploads: list[bytes], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(number: int, session: httpx.AsyncClient) -> None:
        nonlocal errors
        sent = number
        while time.perf_counter() < stop_at:
            data = uploads[sent % len(uploads)]
            sent += clients
            start = time.perf_counter()
            try:
                response = await session.post(url, files={"image": ("q.png", data)})
                ok = response.status_code == 200 and len(response.json()["results"]) == 10
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(number, session) for number in range(clients)))
        elapsed = time.perf_counter() - began
    milliseconds = np.array(latencies) * 1000
    return {
        "searches_per_s": round(len(latencies) / elapsed, 1),
        "searches": len(latencies),
        "errors": errors,
        **{
            f"latency_p{q}_ms": round(float(np.percentile(milliseconds, q)), 1)
            for q in (50, 95, 99)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", default="mnist-best")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "service_load.json"
    )
    arguments = parser.parse_args()

    folder = config.galleries_dir() / arguments.gallery
    if not folder.exists():
        build_registered_gallery(folder, arguments.gallery).close()
    gallery = Gallery.open(folder)
    dataset = gallery.pipeline.metadata.get("dataset", "mnist")
    uploads = [png(image) for image in load_dataset(dataset).x_test[:500]]
    in_process = in_process_rate(gallery, uploads, min(arguments.seconds, 20))
    gallery_images = len(gallery)
    gallery.close()
    print(f"in-process: {in_process:.1f} searches/s", flush=True)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aesearch_utils.service.cli", "serve", "--port", str(port)],
        env=os.environ | {"AESEARCH_GALLERIES_DIR": str(folder.parent)},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the service did not start") from None
                time.sleep(0.5)
        url = f"{base}/api/galleries/{arguments.gallery}/search?k=10"
        asyncio.run(load(url, uploads, 4, 3))  # warm-up: the model's first calls
        measured = asyncio.run(load(url, uploads, arguments.clients, arguments.seconds))
    finally:
        server.terminate()
        server.wait(30)
    result = {
        "gallery": arguments.gallery,
        "gallery_images": gallery_images,
        "clients": arguments.clients,
        "seconds": arguments.seconds,
        "service": measured,
        "in_process_searches_per_s": round(in_process, 1),
        "goals": {"errors": 0, "latency_p99_ms_below": 250, "share_of_in_process_at_least": 0.5},
        "machine": machine_description(),
    }
    print(result, flush=True)
    write_json(arguments.output, result)


if __name__ == "__main__":
    main()
