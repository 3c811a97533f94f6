"""Benchmark: search speed and the approximate index's recall.

Usage: ``python benchmarks/search_speed.py [--large 1000000] [--output results/search_speed.json]``

Measured, on synthetic float32 vectors (speed does not depend on what the
vectors mean):

- exact search of 10,000 queries against a 60,000-vector gallery, 32-D and
  784-D (the size of raw MNIST pixels), k = 10: wall time of the whole batch;
- one query at a time against the same 32-D gallery, through an exact
  ``ImageIndex`` built once: p50 and p95 latency;
- ``--large`` vectors (default one million, 32-D) in the HNSW index: build
  time and index size, then for several ``efSearch`` values (the size of the
  candidate list a query explores) the p50 latency of single queries and the
  recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.io import write_json
from aesearch_utils.search.encoders import PCAEncoder
from aesearch_utils.search.index import ImageIndex
from aesearch_utils.search.neighbours import nearest_neighbours


def best_of(repeats: int, function) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def single_query_latencies_ms(search, queries: np.ndarray) -> np.ndarray:
    latencies = []
    for query in queries:
        start = time.perf_counter()
        search(query[np.newaxis])
        latencies.append((time.perf_counter() - start) * 1000)
    return np.array(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "search_speed.json"
    )
    arguments = parser.parse_args()
    # every repeat searches: a repeat answered by the array cache would time a file read
    os.environ[config.ARRAY_CACHE_VARIABLE] = "0"
    rng = np.random.default_rng(0)
    results: dict[str, object] = {"machine": machine_description()}

    for dim in (32, 784):
        gallery = rng.normal(size=(60_000, dim)).astype(np.float32)
        queries = rng.normal(size=(10_000, dim)).astype(np.float32)
        seconds = best_of(3, lambda q=queries, g=gallery: nearest_neighbours(q, g, 10))
        results[f"exact_10000_queries_60000_gallery_{dim}d_s"] = round(seconds, 3)
        print(f"exact, 10,000 x 60,000, {dim}-D: {seconds:.2f} s", flush=True)
        if dim == 32:
            index = ImageIndex(gallery, None, PCAEncoder(32), (1, 1, 32))
            latencies = single_query_latencies_ms(
                lambda q, index=index: index.query_vectors(q, 10), queries[:500]
            )
            results["exact_single_query_60000_32d_ms"] = {
                "p50": round(float(np.percentile(latencies, 50)), 3),
                "p95": round(float(np.percentile(latencies, 95)), 3),
            }
            print(f"one query against 60,000: p50 {np.percentile(latencies, 50):.2f} ms")

    vectors = rng.normal(size=(arguments.large, 32)).astype(np.float32)
    queries = rng.normal(size=(1000, 32)).astype(np.float32)
    start = time.perf_counter()
    index = ImageIndex(vectors, None, PCAEncoder(32), (1, 1, 32), index_kind="hnsw")
    build_seconds = time.perf_counter() - start
    truth, _ = nearest_neighbours(queries[:200], vectors, 10)
    settings = []
    for ef_search in (64, 128, 256, 512):
        latencies = single_query_latencies_ms(
            lambda q, ef=ef_search: index.query_vectors(q, 10, breadth=ef), queries
        )
        found = index.query_vectors(queries[:200], 10, breadth=ef_search).ids
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
        settings.append(
            {
                "ef_search": ef_search,
                "query_p50_ms": round(float(np.percentile(latencies, 50)), 3),
                "query_p95_ms": round(float(np.percentile(latencies, 95)), 3),
                "recall_at_10": round(float(recall), 4),
            }
        )
        print(f"hnsw, efSearch {ef_search}: {settings[-1]}", flush=True)
    results[f"hnsw_{arguments.large}_32d"] = {
        "build_s": round(build_seconds, 1),
        "index_mib": round(index.nbytes() / 2**20, 1),
        "neighbours": index.vector_index.options()["neighbours"],
        "ef_construction": index.vector_index.options()["ef_construction"],
        "by_ef_search": settings,
    }
    print(f"hnsw build {build_seconds:.0f} s, {index.nbytes() / 2**20:.0f} MiB")
    write_json(arguments.output, results)
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
