"""Benchmark: the gallery store at scale, embedded (SQLite + FAISS), in Milvus Lite and on a
Milvus server.

Usage: ``python benchmarks/store_scale.py [--rows 1000000] [--milvus-rows 1000000] [--dim 128]
[--milvus-uri http://host:19530] [--output results/store_scale.json]``

Without ``--milvus-uri`` the server is the tests' (``tests/milvus_server.py``: PyPI's ``milvus``
2.3.5 standalone on 127.0.0.1, with its package's own time tick), on this machine, sharing its
two cores with the benchmark.

Synthetic unit vectors (gaussian, seeded) go into the store's two layers the
way a gallery uses them: the durable record (SQLite, WAL, ``synchronous=FULL``)
and a searched view. Measured for each view: inserting in batches of 10,000
(record and view together for the embedded store; the view alone for Milvus),
reopening (the embedded store in a fresh process: reading the record and
filling FAISS; Milvus Lite, which lets one process open a database file, and
the server, with a new client in the same process), the peak memory of the
process that holds the vectors (for Milvus Lite, which runs inside this
process, the peak of the whole measurement; for the server, its own), the median
latency of one top-10 query, and recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.io import write_json
from aesearch_utils.search.neighbours import nearest_neighbours, unit_vectors
from aesearch_utils.search.vector_index import FlatIndex
from aesearch_utils.search.vector_index.milvus import MilvusIndex
from aesearch_utils.store.record import GalleryRecord

sys.path.insert(0, str(config.project_root() / "tests"))
from milvus_server import DEFAULT_TICK_MS, milvus_server  # the tests' server

BATCH = 10_000
QUERIES = {"embedded": 200, "milvus_lite": 10, "milvus_server": 200}
"""Single queries timed per view: Milvus Lite 3 searches in pure Python, slowly at this size."""

REOPEN_EMBEDDED = """
import json, sys, time
start = time.perf_counter()
from aesearch_utils.store.record import GalleryRecord
from aesearch_utils.search.vector_index import FlatIndex
path, dim = sys.argv[1], int(sys.argv[2])
items = GalleryRecord(path, dim, (1, 1, 1)).read_all()
view = FlatIndex(dim, "cosine")
view.add(items.ids, items.vectors)
# the process's own peak (getrusage's would carry over the benchmark's, which forked it)
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
print(json.dumps({"reopen_s": time.perf_counter() - start, "count": view.count(),
                  "peak_rss_mib": peak_kib / 1024}))
"""


def vectors_for(rows: int, dim: int, seed: int) -> np.ndarray:
    return unit_vectors(np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32))


def measure(kind: str, rows: int, dim: int, folder: Path, uri: str = "", server_pid: int = 0):
    vectors = vectors_for(rows, dim, 0)
    queries = vectors_for(QUERIES[kind], dim, 1)
    ids = np.arange(rows, dtype=np.int64)
    if kind == "embedded":
        path = folder / "record.sqlite"
        record = GalleryRecord(path, dim, (1, 1, 1))
        view = FlatIndex(dim, "cosine")
        images = np.zeros((BATCH, 1, 1, 1), np.uint8)
        labels = np.full(BATCH, -1)
        start = time.perf_counter()
        for begin in range(0, rows, BATCH):
            block = slice(begin, begin + BATCH)
            count = len(ids[block])
            record.add(ids[block], labels[:count], images[:count], vectors[block], vectors[block])
            view.add(ids[block], vectors[block])
        insert_seconds = time.perf_counter() - start
        record.close()
        target = str(path)
    else:
        target = uri or str(folder / "vectors.db")
        view = MilvusIndex(target, "scale", dim)
        start = time.perf_counter()
        for begin in range(0, rows, BATCH):
            view.add(ids[begin : begin + BATCH], vectors[begin : begin + BATCH])
        insert_seconds = time.perf_counter() - start
    latencies = []
    found = []
    for query in queries:
        begin = time.perf_counter()
        hit_ids, _ = view.search(query[None], 10)
        latencies.append(time.perf_counter() - begin)
        found.append(hit_ids[0])
    truth, _ = nearest_neighbours(queries, vectors, 10, "cosine")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    if kind == "embedded":
        view.close()
        output = subprocess.run(
            [sys.executable, "-c", REOPEN_EMBEDDED, target, str(dim)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        reopen = json.loads(output.strip().splitlines()[-1])
    else:
        # Milvus Lite lets one process open a database file: reopen here, with a new client
        view.close()
        start = time.perf_counter()
        view = MilvusIndex(target, "scale", dim)
        count = view.count()
        reopen = {
            "reopen_s": time.perf_counter() - start,
            "count": count,
            "peak_rss_mib": peak_rss_mib(server_pid)
            if server_pid
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if uri:
            view.drop()
        view.close()
    return {
        "rows": rows,
        "insert_s": round(insert_seconds, 1),
        "insert_rows_per_s": round(rows / insert_seconds),
        "reopen_s": round(reopen["reopen_s"], 2),
        "reopen_peak_rss_mib": round(reopen["peak_rss_mib"]),
        "reopened_rows": reopen["count"],
        "query_p50_ms": round(float(np.median(latencies)) * 1000, 2),
        "recall_at_10": round(float(recall), 4),
        "disk_mib": round(data_bytes(folder) / 2**20),
    }


def data_bytes(folder: Path) -> int:
    """What the files below ``folder`` hold, less the server's copy of its program and logs."""
    skipped = {"bin", "logs"}
    files = [path for path in folder.rglob("*") if path.is_file() and not skipped & set(path.parts)]
    return sum(path.stat().st_size for path in files)


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory of another process (Linux: ``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    peak = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(peak.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--milvus-rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--milvus-uri", default="", help="a Milvus server (default: start one)")
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "store_scale.json"
    )
    arguments = parser.parse_args()
    result = {"dim": arguments.dim, "batch": BATCH, "queries": QUERIES}
    for kind, rows in (("embedded", arguments.rows), ("milvus_lite", arguments.milvus_rows)):
        with tempfile.TemporaryDirectory() as folder:
            result[kind] = measure(kind, rows, arguments.dim, Path(folder))
        print(kind, result[kind], flush=True)
    with (
        tempfile.TemporaryDirectory() as folder,
        milvus_server(arguments.milvus_uri, Path(folder) / "server", DEFAULT_TICK_MS) as (uri, pid),
    ):
        result["milvus_server"] = measure(
            "milvus_server", arguments.milvus_rows, arguments.dim, Path(folder), uri, pid
        )
    print("milvus_server", result["milvus_server"], flush=True)
    result["machine"] = machine_description()
    write_json(arguments.output, result)


if __name__ == "__main__":
    main()
