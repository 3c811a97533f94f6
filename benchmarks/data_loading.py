"""Benchmark: first (decoding) and cached load time of each dataset.

Usage: ``python benchmarks/data_loading.py [--repeats 5] [--output results/data_loading.json]``

The first load of each dataset goes to a new, empty cache folder, so it pays
for decompressing IDX files or decoding JPEGs and for writing the cache; the
cached loads then read that cache. Data come from ``AESEARCH_DATA_DIR`` as
usual. Reported: seconds (first load; median and best of the cached loads)
and the machine they were measured on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from aesearch_utils import config
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import DATASETS, load_dataset
from aesearch_utils.io import write_json


def time_load(name: str, cache_dir: Path) -> tuple[float, str]:
    start = time.perf_counter()
    dataset = load_dataset(name, cache_dir=cache_dir)
    return time.perf_counter() - start, dataset.source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="cached loads per dataset")
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "data_loading.json"
    )
    arguments = parser.parse_args()

    rows = {}
    with tempfile.TemporaryDirectory(prefix="aesearch-bench-cache-") as cache:
        for name in DATASETS:
            first, source = time_load(name, Path(cache))
            cached = [time_load(name, Path(cache))[0] for _ in range(arguments.repeats)]
            rows[name] = {
                "source": source.replace(str(config.data_dir()), "$AESEARCH_DATA_DIR"),
                "first_load_s": round(first, 2),
                "cached_load_median_s": round(statistics.median(cached), 3),
                "cached_load_best_s": round(min(cached), 3),
                "cached_loads": arguments.repeats,
            }
            print(
                f"{name:>13}: first {first:6.2f} s, cached median "
                f"{statistics.median(cached):.3f} s ({source})"
            )
    write_json(
        arguments.output,
        {
            "machine": machine_description(),
            "datasets": rows,
        },
    )
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
