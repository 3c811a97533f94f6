"""Benchmark: reopening a saved registered pipeline, against building it.

Usage: ``python benchmarks/pipeline_reopen.py [--pipeline mnist-best] [--repeats 3]
[--output results/pipeline_reopen.json]``

Builds the registered pipeline (its model comes from the training cache, or
is trained first), saves it, then in fresh interpreters, as a service
starting up would: imports the search core, imports Keras (which the saved
model needs), opens the saved pipeline, and answers every test query. The
top 10 of every query must equal the built pipeline's. Reported: those
three times (median of ``--repeats`` fresh processes), the build's own
encoding and fitting time, the saved size, and whether every top 10 agrees.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.search.registry import build_pipeline

REOPEN = """
import json, sys, time
import numpy as np
start = time.perf_counter()
from aesearch_utils.search import SearchPipeline
core = time.perf_counter()
from aesearch_utils.backend import keras  # noqa: F401
backend = time.perf_counter()
pipeline = SearchPipeline.open(sys.argv[1])
opened = time.perf_counter()
ids = pipeline.query(np.load(sys.argv[2]), 10).ids
print(json.dumps({
    "import_search_core_s": core - start, "import_keras_s": backend - core,
    "open_s": opened - backend, "same_top10": bool(np.array_equal(ids, np.load(sys.argv[3]))),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="mnist-best")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes that reopen it")
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "pipeline_reopen.json"
    )
    arguments = parser.parse_args()
    # the reopened pipeline searches anew (its processes inherit this): the build's search
    # of the same queries must not answer them from the array cache
    os.environ[config.ARRAY_CACHE_VARIABLE] = "0"

    built = build_pipeline(arguments.pipeline)
    queries = load_dataset(built.recipe.dataset).x_test
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        start = time.perf_counter()
        saved = built.pipeline.save(work / arguments.pipeline)
        save_seconds = time.perf_counter() - start
        np.save(work / "queries.npy", queries)
        np.save(work / "expected.npy", built.pipeline.query(queries, 10).ids)
        size = sum(file.stat().st_size for file in saved.rglob("*") if file.is_file())
        runs = []
        for _ in range(arguments.repeats):
            output = subprocess.run(
                [sys.executable, "-c", REOPEN, str(saved), str(work / "queries.npy"),
                 str(work / "expected.npy")],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            runs.append(json.loads(output.strip().splitlines()[-1]))
    result = {
        "pipeline": arguments.pipeline,
        "gallery_images": len(built.pipeline.index),
        "test_queries": len(queries),
        "build_fit_s": round(built.fit_seconds, 2),
        "save_s": round(save_seconds, 2),
        "saved_mib": round(size / 2**20, 1),
        "same_top10_every_query": all(run["same_top10"] for run in runs),
        **{
            key: round(statistics.median(run[key] for run in runs), 3)
            for key in ("import_search_core_s", "import_keras_s", "open_s")
        },
        "repeats": arguments.repeats,
        "machine": machine_description(),
    }
    print(json.dumps(result, indent=2))
    write_json(arguments.output, result)


if __name__ == "__main__":
    main()
