"""Benchmark: the search service under load, where each search's time goes, and in-process.

Usage: ``python benchmarks/service_load.py [--gallery mnist-best] [--seconds 60]
[--output results/service_load.json]``

Starts ``aesearch serve`` on 127.0.0.1 (free ports) over the gallery (built
first if missing) and runs five loads, each for ``--seconds``: 32 clients
on one service process (the goal: p99 <= 250 ms and >= 350 searches/s, no
error), 128 clients on one process, 32 clients on two processes over the
same gallery folder (each client keeps to one of them), and 32 clients on two
processes that serve one gallery whose record is in a Milvus server (the
tests' server, started here on 127.0.0.1, with the gallery built into it), at
the server's default time tick and at the tests' shorter one: a search there
reads "Strong", so it waits for the server's next tick. A client uploads a
test image, waits for the answer, and sends the next: searches per second,
latency percentiles, errors, and the load generator's own CPU time per
search (it shares the machine's cores with the server). After each load the
service's ``/metrics`` say where a search's time went inside it, stage by
stage (``aesearch_search_stage_seconds``). Before the loads, one thread
searches the same gallery in-process, one image at a time (decoded PNG in,
top 10 out): the rate the service is compared with.

The loads only ever target 127.0.0.1, and stop by themselves when the time is
up. The two processes over an embedded gallery only read, and each serves its
own copy of the gallery folder (a gallery folder is open in one process at a
time: see ``store/locking.py``), so that load measures what a second process
buys on these cores; the two over Milvus serve one gallery, as replicas do.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.service.metrics import SEARCH_STAGES
from aesearch_utils.service.server import free_port
from aesearch_utils.service.uploads import decode_upload
from aesearch_utils.store.gallery import Gallery, build_registered_gallery

sys.path.insert(0, str(config.project_root() / "tests"))
from milvus_server import DEFAULT_TICK_MS, TICK_MS, milvus_server  # the tests' server

GOALS = {"errors": 0, "latency_p99_ms_at_most": 250, "searches_per_s_at_least": 350}
LOADS = (
    ("32 clients", 32, 1, None),
    ("128 clients", 128, 1, None),
    ("32 clients, 2 processes", 32, 2, None),
    ("32 clients, 2 processes, one Milvus", 32, 2, DEFAULT_TICK_MS),
    (f"32 clients, 2 processes, one Milvus, {TICK_MS} ms tick", 32, 2, TICK_MS),
)
"""Each load's name, clients, service processes, and the Milvus server's time tick in ms
(``None``: the gallery is embedded)."""


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


def gallery_copies(stack: ExitStack, folder: Path, processes: int) -> list[Path]:
    """A galleries folder for each process: the first the gallery's own, the others a copy."""
    folders = [folder.parent]
    for _ in range(processes - 1):
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        shutil.copytree(folder, scratch / folder.name, ignore=shutil.ignore_patterns("open.lock"))
        folders.append(scratch)
    return folders


def shared_galleries(stack: ExitStack, name: str, tick_ms: int) -> tuple[Path, str]:
    """A galleries folder with the registered gallery ``name`` built into a Milvus server
    started here (its time tick ``tick_ms``), and that server's URI."""
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    uri, _ = stack.enter_context(milvus_server("", scratch / "milvus", tick_ms))
    build_registered_gallery(scratch / "galleries" / name, name, uri).close()
    return scratch / "galleries", uri


@contextmanager
def service(galleries: Path, vectors_uri: str = ""):
    """``aesearch serve`` on a free port of 127.0.0.1, once it answers; its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aesearch_utils.service.cli", "serve", "--port", str(port)],
        env=os.environ | {"AESEARCH_GALLERIES_DIR": str(galleries),
                          "AESEARCH_VECTORS_URI": vectors_uri},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the service did not start") from None
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(30)


BOUNDARY = "aesearchloadboundary"


def search_request(host: str, port: int, path: str, upload: bytes) -> bytes:
    """One whole HTTP/1.1 multipart search request, built once and sent many times."""
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="q.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + upload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes):
    """Send ``request`` on a kept-alive connection; the answer's status and body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    return status, await reader.readexactly(length)


async def load(urls: list[str], uploads: list[bytes], clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients, client ``n`` on ``urls[n % len(urls)]``, each on its
    own kept-alive connection. The requests are built beforehand and the answers read with
    asyncio's streams, not an HTTP library: the load generator shares the server's two cores,
    and every millisecond it spends is one the server does not get (httpx took 5.3 ms of CPU
    per search here, as much as the search itself)."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    targets = [httpx.URL(url) for url in urls]
    requests = [
        [search_request(t.host, t.port, t.raw_path.decode(), upload) for upload in uploads]
        for t in targets
    ]

    async def client(number: int) -> None:
        nonlocal errors
        target, sent = number % len(urls), number
        connection = None
        while time.perf_counter() < stop_at:
            request = requests[target][sent % len(uploads)]
            sent += clients
            start = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(
                        targets[target].host, targets[target].port
                    )
                status, body = await asyncio.wait_for(exchange(*connection, request), 30)
                ok = status == 200 and len(json.loads(body)["results"]) == 10
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                ok, connection = False, None
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1
        if connection is not None:
            connection[1].close()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(number) for number in range(clients)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    milliseconds = np.array(latencies) * 1000
    return {
        "searches_per_s": round(len(latencies) / elapsed, 1),
        "searches": len(latencies),
        "errors": errors,
        **{
            f"latency_p{q}_ms": round(float(np.percentile(milliseconds, q)), 1)
            for q in (50, 95, 99)
        },
        "client_cpu_ms_per_search": round(cpu / max(len(latencies), 1) * 1000, 2),
    }


def _sums(metrics: str, name: str, label: str) -> dict[str, tuple[float, float]]:
    """``{label value: (sum, count)}`` of a Prometheus histogram in ``metrics``' text."""
    found: dict[str, list[float]] = {}
    for part, index in (("sum", 0), ("count", 1)):
        pattern = rf'^{name}_{part}\{{{label}="([^"]+)"\}} (\S+)$'
        for value, number in re.findall(pattern, metrics, re.MULTILINE):
            found.setdefault(value, [0.0, 0.0])[index] = float(number)
    return {key: (total, count) for key, (total, count) in found.items()}


def server_side(bases: list[str], before: list[str]) -> dict:
    """Mean milliseconds of each search stage, and of the whole answer, over the last load."""
    after = [httpx.get(f"{base}/metrics").text for base in bases]

    def mean(name: str, label: str, value: str) -> float:
        totals = [
            np.subtract(_sums(late, name, label).get(value, (0, 0)),
                        _sums(early, name, label).get(value, (0, 0)))
            for early, late in zip(before, after, strict=True)
        ]  # fmt: skip
        total, count = np.sum(totals, axis=0)
        return round(float(total / count) * 1000, 3) if count else 0.0

    stages = {
        stage: mean("aesearch_search_stage_seconds", "stage", stage) for stage in SEARCH_STAGES
    }
    whole = mean("aesearch_request_seconds", "route", "/api/galleries/{name}/search")
    batches = [
        np.subtract(*(_totals(text, "aesearch_search_batch_size") for text in (late, early)))
        for early, late in zip(before, after, strict=True)
    ]
    searches, count = np.sum(batches, axis=0)
    return {"stages_ms": stages, "request_ms": whole,
            "mean_batch": round(float(searches / count), 1) if count else 0.0}  # fmt: skip


def _totals(metrics: str, name: str) -> tuple[float, float]:
    """The sum and count of an unlabelled histogram."""
    values = dict(re.findall(rf"^{name}_(sum|count) (\S+)$", metrics, re.MULTILINE))
    return float(values.get("sum", 0)), float(values.get("count", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gallery", default="mnist-best")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--goal-only", action="store_true", help="only the 32-client load")
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "service_load.json"
    )
    arguments = parser.parse_args()

    folder = config.galleries_dir() / arguments.gallery
    if not folder.exists():
        build_registered_gallery(folder, arguments.gallery).close()
    gallery = Gallery.open(folder)
    gallery.verify()  # the record's integrity check, which a fresh open runs in the background
    dataset = gallery.pipeline.metadata.get("dataset", "mnist")
    uploads = [png(image) for image in load_dataset(dataset).x_test[:500]]
    in_process = in_process_rate(gallery, uploads, min(arguments.seconds, 20))
    gallery_images = len(gallery)
    gallery.close()
    print(f"in-process: {in_process:.1f} searches/s", flush=True)

    runs = []
    for name, clients, processes, tick_ms in LOADS[:1] if arguments.goal_only else LOADS:
        with ExitStack() as stack:
            if tick_ms is None:
                folders, uri = gallery_copies(stack, folder, processes), ""
            else:  # every process serves the one gallery in Milvus
                shared, uri = shared_galleries(stack, arguments.gallery, tick_ms)
                folders = [shared] * processes
            bases = [stack.enter_context(service(galleries, uri)) for galleries in folders]
            urls = [f"{base}/api/galleries/{arguments.gallery}/search?k=10" for base in bases]
            asyncio.run(load(urls, uploads, clients, 5))  # warm-up: the model traced per batch size
            before = [httpx.get(f"{base}/metrics").text for base in bases]
            measured = asyncio.run(load(urls, uploads, clients, arguments.seconds))
            run = {"name": name, "clients": clients, "processes": processes,
                   "milvus_tick_ms": tick_ms, "service": measured,
                   **server_side(bases, before)}  # fmt: skip
        print(run, flush=True)
        runs.append(run)
    result = {
        "gallery": arguments.gallery,
        "gallery_images": gallery_images,
        "seconds": arguments.seconds,
        "in_process_searches_per_s": round(in_process, 1),
        "runs": runs,
        "goals": GOALS,
        "machine": machine_description(),
    }
    write_json(arguments.output, result)


if __name__ == "__main__":
    main()
