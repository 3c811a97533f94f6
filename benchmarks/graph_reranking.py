"""Benchmark: do k-reciprocal re-ranking or diffusion beat the winners' own re-ranking?

Usage: ``python benchmarks/graph_reranking.py [--pipelines mnist-best ...]
[--output results/graph_reranking.csv]``

Issue 15 named re-ranking on the gallery's neighbour graph among the ways to
raise precision (:mod:`aesearch_utils.search.graph_reranking`). This measures
it where notebook 12 makes its choices: on each registered pipeline's
validation split (the gallery is the training images the autoencoder trained
on, the queries the held-out tenth), with the pipeline's own features and
whitening. Each row is one re-ranking of the first 100 cosine results, beside
the registered recipe's database-side augmentation and query expansion; its
lead over the registered re-ranking comes with a paired bootstrap interval
over the validation queries. The test split is not touched: a graph
re-ranking that won here would have to enter notebook 12's grid and rule
before it could be registered.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from aesearch_utils import config
from aesearch_utils.course.ablation import encode_split, validation_split
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_atomically
from aesearch_utils.search.graph_reranking import (
    NeighbourGraph,
    diffusion_ranking,
    k_reciprocal_reranking,
)
from aesearch_utils.search.index import SearchResult
from aesearch_utils.search.metrics import bootstrap_interval, precision_per_query, retrieval_scores
from aesearch_utils.search.pipeline import SearchPipeline, post_processing
from aesearch_utils.search.registry import features_encoder, pipeline_names, pipeline_recipe

FIRST_RESULTS = 100
"""Results per query that a re-ranking re-orders (and mAP@100 reads)."""
RECIPROCAL_DEPTHS = (10, 20, 30)
COSINE_WEIGHTS = (0.3, 0.6)
DIFFUSION_DEPTHS = (10, 30)
DIFFUSION_SEEDS = 10
"""A query's first results that start its diffusion."""
DIFFUSION_ALPHA = 0.9


def graph_rows(gallery: np.ndarray, first: SearchResult, base: str):
    """Per graph re-ranking of a first search (``first``, over the unit vectors ``gallery``):
    its setting and its ``(rows, seconds)``."""
    start = time.perf_counter()
    graph = NeighbourGraph.of(gallery, max(*RECIPROCAL_DEPTHS, *DIFFUSION_DEPTHS))
    graph_seconds = time.perf_counter() - start

    def timed(rerank: Callable[..., tuple[np.ndarray, np.ndarray]], *arguments):
        start = time.perf_counter()
        rows, _ = rerank(graph, *arguments)
        return rows, graph_seconds + time.perf_counter() - start

    for depth in RECIPROCAL_DEPTHS:
        for weight in COSINE_WEIGHTS:
            setting = {"base": base, "method": "k-reciprocal", "k": depth, "parameter": weight}
            yield setting, timed(k_reciprocal_reranking, first.rows, first.distances, depth, weight)
    if base != "cosine":
        return  # diffusion starts from the first cosine results only
    seeds = slice(0, DIFFUSION_SEEDS)
    for depth in DIFFUSION_DEPTHS:
        setting = {"base": base, "method": "diffusion", "k": depth, "parameter": DIFFUSION_ALPHA}
        yield setting, timed(
            diffusion_ranking, first.rows[:, seeds], first.distances[:, seeds], depth,
            DIFFUSION_ALPHA, FIRST_RESULTS,
        )  # fmt: skip


def measure(name: str) -> list[dict]:
    recipe = pipeline_recipe(name)
    data = load_dataset(recipe.dataset)
    split = validation_split(data)
    encoded = encode_split(features_encoder(recipe.features, data, split.gallery), split)
    whitening = {"whiten_dims": recipe.whiten_dims, "whiten_power": recipe.whiten_power}

    def fitted(expansion_k: int) -> SearchPipeline:
        return SearchPipeline(encoded.encoder, **whitening, expansion_k=expansion_k).fit_features(
            encoded.gallery, split.gallery_labels, split.gallery.shape[1:]
        )

    # the first search of each base, on which the graph re-rankings start
    registered_base = "+".join(post_processing(None, 0, recipe.expansion_k)) or "cosine"
    bases = {"cosine": fitted(0), registered_base: fitted(recipe.expansion_k)}
    first = {
        base: pipeline.index.query_vectors(
            pipeline.expanded_queries(pipeline.unit_vectors(encoded.queries)), FIRST_RESULTS
        )
        for base, pipeline in bases.items()
    }
    reference = first[registered_base].rows
    reference_precision = precision_per_query(
        split.query_labels, split.gallery_labels[reference], 10
    )

    def row(setting: dict, rows: np.ndarray, seconds: float) -> dict:
        retrieved = split.gallery_labels[rows]
        lead = precision_per_query(split.query_labels, retrieved, 10) - reference_precision
        low, high = bootstrap_interval(lead)
        print(name, setting, f"{lead.mean():+.4f}", flush=True)
        return {
            "pipeline": name,
            "dataset": recipe.dataset,
            **dict.fromkeys(("base", "method", "k", "parameter")),
            **setting,
            **retrieval_scores(split.query_labels, retrieved, split.gallery_labels, 10, 100),
            "lead_over_registered": round(float(lead.mean()), 4),
            "lead_low": round(low, 4),
            "lead_high": round(high, 4),
            "seconds": round(seconds, 1),
        }

    rows = [
        row({"base": registered_base, "method": "registered"}, reference, 0.0),
        row({"base": "cosine", "method": "none"}, first["cosine"].rows, 0.0),
    ]
    for base, pipeline in bases.items():
        ranked = graph_rows(pipeline.index.vectors, first[base], base)
        rows += [row(setting, *result) for setting, result in ranked]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=list(pipeline_names()))
    parser.add_argument(
        "--output",
        type=Path,
        default=config.project_root() / "results" / "graph_reranking.csv",
    )
    arguments = parser.parse_args()
    table = pd.DataFrame([row for name in arguments.pipelines for row in measure(name)])
    write_atomically(arguments.output, lambda path: table.to_csv(path, index=False))
    print(table.to_string())
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
