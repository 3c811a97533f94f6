"""Benchmark: a gallery of a million real image embeddings, searched exactly and approximately.

Usage: ``python benchmarks/gallery_scale.py [--size 1000000] [--sizes 10000 100000 1000000]
[--queries 1000] [--folder DIR] [--output results/gallery_scale.json]``

Synthetic gaussian vectors are the worst case of any approximate index (see
results/search_speed.json), so this measures real ones: the
registered ``mnist-best`` gallery, built through the gallery API as a user grows one. The
60,000 MNIST training images first (``build_registered_gallery``: the pipeline's encoder,
whitening and re-ranking), then the same images under random changes
(``random_perturbations``: shifts, rotations, blur, brightness, contrast, noise; seeded), added
with ``Gallery.add`` in batches of :data:`BATCH` until the gallery holds ``--size`` images. It
grows with ``AESEARCH_GALLERY_INDEX=hnsw``: each addition's database-side augmentation searches
the gallery for the new images' neighbours, which exactly would scan a million vectors per image.

Measured:

- growth: the registered build's time, then images added per second (encoding, augmentation,
  the SQLite transaction and both HNSW graphs), the peak memory and the folder on disk;
- reopening, in a fresh process that has imported Keras and FAISS already (the figure is the
  store's): with the saved HNSW graphs (the gallery's checkpoint, ``index/``), with the exact
  index built from the record (the first open after a change of index), and with the exact
  index's own checkpoint; each process then answers the report queries one at a time through
  ``Gallery.search_vectors`` (query expansion, then the top 10), on one core as the service
  does, waits for the record's integrity check, and adds one image (the first change reads the
  unaugmented index) and deletes it again;
- cost against size: the first 10k, 100k and 1M searched vectors in an exact and an HNSW index,
  each index's build time and memory, and one query's p50 and p99 (query expansion and the
  search, as the gallery does) at several ``efSearch``, with recall@10 against the exact index's
  top 10 and precision@10 of the test queries' labels.

The queries are MNIST test images, never in the gallery: the first half chooses ``efSearch`` (the
smallest whose recall@10 is at least :data:`RECALL_GOAL` at the largest size), the second half is
reported. Writes ``--output`` and ``figures/gallery_scale.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.data.perturbations import random_perturbations
from aesearch_utils.data.preprocessing import as_float_images
from aesearch_utils.io import write_json
from aesearch_utils.search.metrics import precision_at_k
from aesearch_utils.search.reranking import expanded_queries
from aesearch_utils.search.vector_index import make_index, search_on_one_core
from aesearch_utils.seeding import DEFAULT_SEED
from aesearch_utils.store.gallery import Gallery, build_registered_gallery
from aesearch_utils.store.record import GalleryRecord

PIPELINE = "mnist-best"
BATCH = 20_000
EF_SEARCHES = (16, 32, 64, 128, 256)
RECALL_GOAL = 0.95
P50_GOAL_MS = 2.0
REOPEN_GOAL_S = 2.0

REOPEN = """
import json, sys, time
import numpy as np
import faiss  # noqa: F401  (imported, as Keras is: the figure is the store's, not Python's)
from aesearch_utils.backend import keras  # noqa: F401  (the pipeline's model needs it)
from aesearch_utils.data import load_dataset
from aesearch_utils.search.vector_index import search_on_one_core
from aesearch_utils.store.gallery import Gallery
start = time.perf_counter()
gallery = Gallery.open(sys.argv[1])
opened = time.perf_counter() - start
search_on_one_core()
queries = np.load(sys.argv[2])
latencies, ids, labels = [], [], []
for query in queries:
    begin = time.perf_counter()
    found = gallery.search_vectors(query[None], 10)
    latencies.append((time.perf_counter() - begin) * 1000)
    ids.append(found.ids[0])
    labels.append(found.labels[0])
np.save(sys.argv[3], np.array(ids))
np.save(sys.argv[4], np.array(labels))
gallery.verify()
checked = time.perf_counter() - start
begin = time.perf_counter()
added = gallery.add(load_dataset("mnist").x_test[-1:], [None])
first_add = time.perf_counter() - begin
gallery.delete(added.tolist())  # the same items for the next process
# the process's own peak (getrusage's would carry over the benchmark's, which forked it)
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
print(json.dumps({"open_s": opened, "index": gallery.index_kind, "items": len(gallery),
                  "integrity_checked_s": checked, "first_add_s": first_add,
                  "peak_rss_mib": peak_kib / 1024,
                  "query_p50_ms": float(np.percentile(latencies, 50)),
                  "query_p99_ms": float(np.percentile(latencies, 99))}))
gallery.close()
"""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mib(folder: Path) -> dict[str, float]:
    sizes = {path.name: path.stat().st_size / 2**20 for path in folder.rglob("*") if path.is_file()}
    return {
        "record_mib": round(sum(v for k, v in sizes.items() if k.startswith("record.")), 1),
        "checkpoint_mib": round(
            sum(path.stat().st_size for path in (folder / "index").rglob("*.npy")) / 2**20, 1
        ),
        "total_mib": round(sum(sizes.values()), 1),
    }


def grow(folder: Path, size: int, seed: int) -> dict[str, object]:
    """The registered gallery, grown by changed copies of its images to ``size`` items."""
    start = time.perf_counter()
    gallery = build_registered_gallery(folder, PIPELINE)
    built_s = time.perf_counter() - start
    data = load_dataset("mnist")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    while len(gallery) < size:
        rows = rng.integers(0, len(data.x_train), min(BATCH, size - len(gallery)))
        changed = random_perturbations(as_float_images(data.x_train[rows]), rng)
        gallery.add(np.round(changed * 255).astype(np.uint8), data.y_train[rows])
        print(f"{len(gallery):,} items, {time.perf_counter() - start:.0f} s", flush=True)
    added = len(gallery) - len(data.x_train)
    added_s = time.perf_counter() - start
    start = time.perf_counter()
    gallery.close()  # saves the checkpoint
    return {
        "build_60000_s": round(built_s, 1),
        "added": added,
        "add_s": round(added_s, 1),
        "add_images_per_s": round(added / added_s) if added else None,
        "close_and_save_s": round(time.perf_counter() - start, 1),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def reopen(
    folder: Path, kind: str, ef_search: int, queries: Path, scratch: Path
) -> tuple[dict, np.ndarray, np.ndarray]:
    """A fresh process opens the gallery with index ``kind`` and answers ``queries``."""
    ids, labels = scratch / f"ids_{kind}.npy", scratch / f"labels_{kind}.npy"
    environment = os.environ | {
        "AESEARCH_GALLERY_INDEX": kind,
        "AESEARCH_GALLERY_EF_SEARCH": str(ef_search),
    }
    output = subprocess.run(
        [sys.executable, "-c", REOPEN, str(folder), str(queries), str(ids), str(labels)],
        capture_output=True, text=True, check=True, env=environment,
    ).stdout  # fmt: skip
    measured = json.loads(output.strip().splitlines()[-1])
    return {name: round(value, 3) if isinstance(value, float) else value
            for name, value in measured.items()}, np.load(ids), np.load(labels)  # fmt: skip


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))


def precision(items, found: np.ndarray, query_labels: np.ndarray) -> float:
    """Precision@10 of the query labels among the found items' labels."""
    retrieved = items.labels[np.searchsorted(items.ids, found)]
    return round(precision_at_k(query_labels, retrieved, 10), 4)


def timed_search(index, queries: np.ndarray, expansion: tuple[int, float], breadth: int | None):
    """One query at a time, as the gallery searches: expansion, then the top 10, both searches
    with ``breadth``."""
    latencies, found = [], []
    for query in queries:
        begin = time.perf_counter()
        expanded = expanded_queries(index, query[None], *expansion, breadth)
        ids, _ = index.search(expanded, 10, breadth)
        latencies.append((time.perf_counter() - begin) * 1000)
        found.append(ids[0])
    return np.array(found), latencies


def cost_by_size(folder: Path, sizes: list[int], queries: np.ndarray, labels: np.ndarray,
                 expansion: tuple[int, float]) -> list[dict]:  # fmt: skip
    """Exact and HNSW indexes over the first ``n`` searched vectors, for each ``n``."""
    description = json.loads((folder / "gallery.json").read_text(encoding="utf-8"))
    record = GalleryRecord(folder / "record.sqlite", description["dim"], description["image_shape"])
    items = record.read_all()
    record.close()
    half = len(queries) // 2
    rows = []
    for size in sizes:
        measured: dict[str, object] = {"items": size}
        indexes = {}
        for kind in ("exact", "hnsw"):
            start = time.perf_counter()
            index = make_index(kind, items.vectors.shape[1], "cosine")
            index.add(items.ids[:size], items.vectors[:size])
            indexes[kind] = index
            measured[f"{kind}_build_s"] = round(time.perf_counter() - start, 1)
            measured[f"{kind}_mib"] = round(index.nbytes() / 2**20, 1)
        truth, latencies = timed_search(indexes["exact"], queries, expansion, None)
        measured["exact"] = {
            "query_p50_ms": round(float(np.percentile(latencies[half:], 50)), 3),
            "query_p99_ms": round(float(np.percentile(latencies[half:], 99)), 3),
            "precision_at_10": precision(items, truth[half:], labels[half:]),
        }
        measured["hnsw"] = []
        for ef_search in EF_SEARCHES:
            found, latencies = timed_search(indexes["hnsw"], queries, expansion, ef_search)
            measured["hnsw"].append(
                {
                    "ef_search": ef_search,
                    "choice_recall_at_10": round(recall_at_10(found[:half], truth[:half]), 4),
                    "recall_at_10": round(recall_at_10(found[half:], truth[half:]), 4),
                    "query_p50_ms": round(float(np.percentile(latencies[half:], 50)), 3),
                    "query_p99_ms": round(float(np.percentile(latencies[half:], 99)), 3),
                    "precision_at_10": precision(items, found[half:], labels[half:]),
                }
            )
        for index in indexes.values():
            index.close()
        rows.append(measured)
        print(json.dumps(measured), flush=True)
    return rows


def draw(rows: list[dict], chosen: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["items"] for row in rows]
    hnsw = [next(s for s in row["hnsw"] if s["ef_search"] == chosen) for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(sizes, [row["exact"]["query_p50_ms"] for row in rows], "o-", label="exact")
    axes[0].plot(sizes, [s["query_p50_ms"] for s in hnsw], "s-", label=f"HNSW, efSearch {chosen}")
    axes[0].axhline(P50_GOAL_MS, color="grey", linestyle=":", label=f"goal {P50_GOAL_MS:g} ms")
    axes[0].set(xscale="log", yscale="log", xlabel="gallery images", ylabel="one query, p50 (ms)")
    axes[0].legend()
    axes[1].plot(sizes, [s["recall_at_10"] for s in hnsw], "s-", color="C1")
    axes[1].axhline(RECALL_GOAL, color="grey", linestyle=":", label=f"goal {RECALL_GOAL:g}")
    axes[1].set(xscale="log", xlabel="gallery images", ylabel="HNSW recall@10 vs exact")
    axes[1].legend()
    figure.suptitle("mnist-best gallery of MNIST images and changed copies, 2 CPU cores")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000, help="half choose, half report")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--folder", type=Path, help="where the gallery is built (default: a temporary folder)"
    )
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "gallery_scale.json"
    )
    arguments = parser.parse_args()
    # the arrays cache would answer the exact searches of a rerun from disk
    os.environ[config.ARRAY_CACHE_VARIABLE] = "0"
    os.environ["AESEARCH_GALLERY_INDEX"] = "hnsw"
    scratch = Path(tempfile.mkdtemp(prefix="gallery_scale_"))
    folder = arguments.folder or scratch / "gallery"
    try:
        results: dict[str, object] = {
            "machine": machine_description(),
            "pipeline": PIPELINE,
            "size": arguments.size,
            "growth_ef_search": config.settings().gallery_ef_search,
            "growth": grow(folder, arguments.size, arguments.seed),
            "disk": folder_mib(folder),
        }
        print(json.dumps(results["growth"]), flush=True)
        data = load_dataset("mnist")
        query_images = data.x_test[: arguments.queries]
        gallery = Gallery.open(folder)
        vectors = gallery.encode(query_images)
        expansion = (gallery.pipeline.expansion_k, gallery.pipeline.expansion_alpha)
        gallery.close()
        np.save(scratch / "queries.npy", vectors)
        search_on_one_core()
        labels = data.y_test[: arguments.queries]
        rows = cost_by_size(folder, arguments.sizes, vectors, labels, expansion)
        largest = rows[-1]["hnsw"]
        reaching = [s["ef_search"] for s in largest if s["choice_recall_at_10"] >= RECALL_GOAL]
        chosen = min(reaching) if reaching else max(EF_SEARCHES)
        reopened = {}
        found = {}
        for name, kind in (("hnsw_saved", "hnsw"), ("exact_from_record", "exact"),
                           ("exact_saved", "exact")):  # fmt: skip
            reopened[name], found[name], _ = reopen(
                folder, kind, chosen, scratch / "queries.npy", scratch
            )
            print(name, json.dumps(reopened[name]), flush=True)
        half = arguments.queries // 2
        reopened["hnsw_saved"]["recall_at_10"] = round(
            recall_at_10(found["hnsw_saved"][half:], found["exact_saved"][half:]), 4
        )
        results |= {
            "queries": arguments.queries,
            "recall_goal": RECALL_GOAL,
            "p50_goal_ms": P50_GOAL_MS,
            "reopen_goal_s": REOPEN_GOAL_S,
            "chosen_ef_search": chosen,
            "by_size": rows,
            "reopen": reopened,
            "disk_after": folder_mib(folder),
        }
        write_json(arguments.output, results)
        draw(rows, chosen, config.project_root() / "figures" / "gallery_scale.png")
        print(f"written to {arguments.output}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
