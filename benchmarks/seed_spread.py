"""Benchmark: how much a registered winner's test scores move with its training seed.

Usage: ``python benchmarks/seed_spread.py [--pipelines mnist-best ...] [--seeds 0 1 2]
[--output results/seed_spread.json]``

Measuring some pipelines replaces their rows in an existing output file and
keeps the others', so a changed recipe is measured again on its own.

A bootstrap interval over the test queries (notebook 12) says how much a
score would move with another test set; it says nothing about another
training run. Here each registered pipeline is built again with each
training seed (which also draws the validation images training holds out),
the whole training split as the gallery, every test image a query, and its
test precision@10 and mAP@100 (retrieved) recorded per seed, with their mean
and sample standard deviation. Seed 0 is the registered run, from the cache;
the others train anew. A winner's lead over a baseline is a claim only when
it is larger than this spread as well as the bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.course.measure import measure_pipeline
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.search.registry import build_pipeline, pipeline_names, pipeline_recipe

SCORES = ("precision_at_10", "map_at_100_retrieved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=list(pipeline_names()))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "seed_spread.json"
    )
    arguments = parser.parse_args()
    rows = []
    for name in arguments.pipelines:
        data = load_dataset(pipeline_recipe(name).dataset)
        runs = []
        for seed in arguments.seeds:
            start = time.perf_counter()
            built = build_pipeline(name, data, seed=seed)
            measured, _ = measure_pipeline(built.pipeline, data, name=name, kind="autoencoder")
            runs.append(
                {
                    "seed": seed,
                    **{score: measured[score] for score in SCORES},
                    "train_seconds": round(built.train_seconds, 1),
                    "from_cache": all(model.from_cache for model in built.trained),
                    "run_seconds": round(time.perf_counter() - start, 1),
                }
            )
            print(name, runs[-1], flush=True)
        summary = {}
        for score in SCORES:
            values = [run[score] for run in runs]
            summary |= {
                f"{score}_mean": round(statistics.mean(values), 4),
                f"{score}_sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            }
        rows.append({"pipeline": name, "dataset": data.name, **summary, "runs": runs})
    # rows of the pipelines not measured now stay, as long as they are still registered
    order = list(pipeline_names())
    kept = (
        [row for row in json.loads(arguments.output.read_text())["rows"]
         if row["pipeline"] in order and row["pipeline"] not in arguments.pipelines]
        if arguments.output.is_file()
        else []
    )  # fmt: skip
    rows = sorted(kept + rows, key=lambda row: order.index(row["pipeline"]))
    write_json(arguments.output, {"machine": machine_description(), "rows": rows})
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
