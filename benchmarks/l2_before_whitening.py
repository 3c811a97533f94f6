"""Experiment: scaling each feature vector to unit length before the whitening, on validation.

Usage: ``python benchmarks/l2_before_whitening.py [--pipelines mnist-best ...]
[--output results/l2_before_whitening.json]``

The registered pipelines whiten their features as they come out of the
encoder. Whitening subtracts the gallery's mean feature, so an image whose
features are all scaled down (a darker or fainter image, with a conv encoder
whose responses grow with the input) no longer points the same way after it:
notebook 12's robustness table shows the MNIST winner losing more to a
darker query than raw pixels with cosine search, which ignore the scale. The
usual order in image retrieval is the other one: unit length, then PCA
whitening, then unit length again. This script measures that order against
the registered one, on the validation split only (the gallery is the 90 % of
the training split the models were trained on, the queries the held-out
10 %; the test split is not touched), with clean queries and under every
change of :mod:`aesearch_utils.data.perturbations`. It is a measurement for
the next validation study to choose with, not a registered recipe.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.course.ablation import validation_split
from aesearch_utils.course.robustness import CLEAN
from aesearch_utils.data import load_dataset
from aesearch_utils.data.perturbations import PERTURBATIONS, perturb
from aesearch_utils.io import write_json
from aesearch_utils.search.encoders import Encoder
from aesearch_utils.search.metrics import precision_at_k
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import features_encoder, pipeline_names, pipeline_recipe


class UnitLengthFirst:
    """An encoder's features scaled to unit length, before the pipeline whitens them."""

    def __init__(self, base: Encoder) -> None:
        self.base = base
        self.name = f"{base.name} (unit length first)"

    @property
    def output_dim(self) -> int:
        return self.base.output_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        return unit_vectors(self.base.encode(images))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=list(pipeline_names()))
    parser.add_argument(
        "--output",
        type=Path,
        default=config.project_root() / "results" / "l2_before_whitening.json",
    )
    arguments = parser.parse_args()
    rows = []
    for name in arguments.pipelines:
        recipe = pipeline_recipe(name)
        data = load_dataset(recipe.dataset)
        split = validation_split(data)
        base = features_encoder(recipe.features, data, split.gallery)
        for order, encoder in (("registered", base), ("unit length first", UnitLengthFirst(base))):
            pipeline = SearchPipeline(encoder, **recipe.settings())
            pipeline.fit(split.gallery, split.gallery_labels)
            scores = {}
            for change in (CLEAN, *PERTURBATIONS):
                queries = split.queries if change == CLEAN else perturb(split.queries, change)
                labels = pipeline.query(queries, 10).labels
                scores[change] = round(precision_at_k(split.query_labels, labels, 10), 4)
            rows.append({"pipeline": name, "order": order, "precision_at_10": scores})
            print(name, order, scores, flush=True)
    write_json(
        arguments.output,
        {
            "machine": {"cpus": os.cpu_count(), "processor": platform.machine()},
            "split": "validation",
            "rows": rows,
        },
    )
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
