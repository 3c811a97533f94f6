"""Benchmark (issue 32): training objectives beyond reconstruction, on validation.

Usage: ``python benchmarks/objectives.py --dataset mnist --model conv_fc_transpose
[--objectives _invariant _augmented_invariant _vicreg] [--weights 1] [--budget-s 150]
[--layers latent pool2+levels+unit] [--output results/objectives.json]``

Trains ``model`` under each objective recipe (``training/recipes.py``: reconstruction plus
VICReg's invariance term, from each clean image or from its changed views, or the invariance term
alone) with each invariance weight, every one on the same wall-clock budget, and measures the
features read at each layer through notebook 12's validation study (the whitening grid, then
re-ranking of the best whitening); each objective's best pipeline also under every query change
of notebook 12's robustness rule. Validation only: the training split minus its held-out tenth
is the gallery, the tenth the queries; no test image is read.

``--objectives '' _augmented`` measures the reconstruction recipes as registered, and
``--baselines hog`` a baseline, through the same study. ``--epochs N`` trains the objectives for
N epochs instead of the budget: what a longer training buys (into another ``--output``, since
the objectives table compares equal budgets). Each run replaces its dataset's runs of
the same names and weights in ``--output``, so the datasets can be measured one at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from aesearch_utils.course.ablation import robustness_rows, validation_split, whole_study
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset
from aesearch_utils.io import write_json
from aesearch_utils.seeding import DEFAULT_SEED
from aesearch_utils.training import benchmark_config, train_autoencoder
from aesearch_utils.training.recipes import AUGMENTED, OBJECTIVES

RECONSTRUCTION = ("", AUGMENTED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", default="", help="a model of AUGMENTED_MODELS")
    parser.add_argument(
        "--objectives", nargs="*", default=list(OBJECTIVES), choices=(*RECONSTRUCTION, *OBJECTIVES),
        help="'' and '_augmented': the reconstruction recipes as registered (no weight or budget)",
    )  # fmt: skip
    parser.add_argument("--weights", nargs="+", type=float, default=[1.0])
    parser.add_argument("--budget-s", type=float, default=None, help="default: the recipe's")
    parser.add_argument(
        "--epochs", type=int, default=None,
        help="train this many epochs (early stopping aside) instead of for a time budget",
    )  # fmt: skip
    parser.add_argument("--layers", nargs="*", default=[])
    parser.add_argument("--baselines", nargs="*", default=[], help="feature specs, e.g. hog")
    parser.add_argument("--output", default="results/objectives.json")
    arguments = parser.parse_args()
    data = load_dataset(arguments.dataset)
    split = validation_split(data)
    measured = [_study(data, split, baseline, [baseline]) for baseline in arguments.baselines]
    for objective in arguments.objectives if arguments.model else []:
        recipe = f"{arguments.model}{objective}"
        for weight in arguments.weights if objective in OBJECTIVES else [0.0]:
            config = benchmark_config(recipe, data.image_shape, seed=DEFAULT_SEED)
            if objective in OBJECTIVES:
                budget = None if arguments.epochs else arguments.budget_s or config.time_budget_s
                config = dataclasses.replace(
                    config, invariance_weight=weight, time_budget_s=budget,
                    epochs=arguments.epochs or config.epochs,
                )  # fmt: skip
            model = train_autoencoder(config, data.x_train, data.y_train, dataset=data.name)
            print(f"{recipe} (weight {weight}): {model.train_seconds:.0f} s, "
                  f"{model.epochs_run} epochs", flush=True)  # fmt: skip
            specs = [f"{recipe}:{layer}" for layer in arguments.layers]
            measured.append({
                **_study(data, split, recipe, specs, {recipe: model}),
                "invariance_weight": weight,
                "config": dataclasses.asdict(model.config),
                "train_s": round(model.train_seconds, 1),
                "epochs": model.epochs_run,
                "history": model.history,
            })  # fmt: skip
    _record(arguments.output, data.name, measured)


def _study(data, split, name, specs, models=None) -> dict:
    """The validation rows of ``specs``: each one's best whitening and best re-ranking, and the
    best of them under every query change."""
    started = time.perf_counter()
    whitening, reranking = whole_study(data, split, specs=specs, models=models)
    rows = []
    for spec in specs:
        rows.append({
            "features": spec,
            "whitened": whitening[whitening["features"] == spec]
            .nlargest(1, "precision_at_10").iloc[0].to_dict(),
            "reranked": reranking[reranking["features"] == spec]
            .nlargest(1, "precision_at_10").iloc[0].to_dict(),
        })  # fmt: skip
        print(f"{spec:<52} whitened {rows[-1]['whitened']['precision_at_10']:.4f}  "
              f"re-ranked {rows[-1]['reranked']['precision_at_10']:.4f}", flush=True)  # fmt: skip
    best = reranking.nlargest(1, "precision_at_10").iloc[0]
    changed = robustness_rows(best, data, split, None, DEFAULT_SEED, models=models)
    changed_queries = {row["change"]: row["precision_at_10"] for row in changed}
    print(f"{best['features']} under query changes: {changed_queries}", flush=True)
    return {
        "name": name,
        "invariance_weight": 0.0,
        "rows": rows,
        "best": best.to_dict(),
        "changed_queries": changed_queries,
        "study_s": round(time.perf_counter() - started, 1),
    }


def _record(path: str, dataset: str, measured: list[dict]) -> None:
    """Replaces, in ``path``, ``dataset``'s runs of the same names (recipe or baseline) and
    weights."""
    previous = Path(path)
    results = (
        json.loads(previous.read_text(encoding="utf-8")) if previous.exists()
        else {"split": "validation", "datasets": {}}
    )  # fmt: skip
    runs = results["datasets"].get(dataset, [])
    new = {(run["name"], run["invariance_weight"]) for run in measured}
    kept = [run for run in runs if (run["name"], run["invariance_weight"]) not in new]
    results["datasets"][dataset] = [*kept, *measured]
    results["machine"] = machine_description()
    write_json(path, results)


if __name__ == "__main__":
    main()
