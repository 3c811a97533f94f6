"""The objectives table of notebook 14: each training objective's best validation pipeline,
beside HOG's and the registered pipeline's, with notebook 12's robustness rule applied.

``benchmarks/objectives.py`` measures every objective on the validation split and writes
``results/objectives.json``; this module reads it, with notebook 12's validation study
(``12_ablation.csv``: the registered pipeline's row) and its validation robustness table
(``12_validation_robustness.csv``: raw cosine search under each query change, the floor of the
rule). It reads records only, so that the chapter shows all three datasets' studies within its
time budget; the notebook measures one objective again to show that they still hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from aesearch_utils.course.ablation import ABLATION_FILE, matches_recipe
from aesearch_utils.data.dataset import DATASETS
from aesearch_utils.data.perturbations import PERTURBATIONS
from aesearch_utils.search.pipeline import post_processing
from aesearch_utils.search.registry import pipeline_recipe

OBJECTIVES_FILE = "objectives.json"
LONGER_FILE = "objectives_longer.json"
"""An objective trained for a fixed number of epochs rather than the budget: what a longer
training buys (``benchmarks/objectives.py --epochs``)."""
ROBUSTNESS_FILE = "12_validation_robustness.csv"
BASELINE = "hog"
"""The baseline each objective is measured against: the best baseline pipeline on Fashion-MNIST's
and CIFAR-10's test split (``results/12_best_pipelines.csv``)."""


def objective_of(config: dict[str, Any] | None) -> str:
    """What a run's training optimised, from its recorded ``TrainingConfig`` (none: a
    baseline)."""
    if config is None:
        return "no training (baseline)"
    if not config.get("invariance_weight"):
        return "reconstruction from changed images" if config["augment"] else "reconstruction"
    if not config["reconstruction_weight"]:
        return "invariance alone (not an autoencoder)"
    if config["reconstruct_from"] == "views":
        return "reconstruction from changed images + invariance"
    return "reconstruction + invariance"


def objective_runs(results_dir: Path, file_name: str = OBJECTIVES_FILE) -> pd.DataFrame:
    """One row per run measured into ``file_name`` (dataset, objective, invariance weight; the
    datasets in the catalogue's order): its training cost, its best validation pipeline, that
    pipeline's lead over HOG's best, its precision@10 under each query change and whether each
    is at least raw cosine search's (notebook 12's rule)."""
    recorded = json.loads((results_dir / file_name).read_text(encoding="utf-8"))
    floors = pd.read_csv(results_dir / ROBUSTNESS_FILE)
    floors = floors[floors["features"] == "raw"].set_index(["dataset", "change"])
    rows = []
    known = [name for name in DATASETS if name in recorded["datasets"]]
    for dataset in known + sorted(set(recorded["datasets"]) - set(known)):
        runs = recorded["datasets"][dataset]
        baseline = next(run for run in runs if run["name"] == BASELINE)
        for run in runs:
            best = run["best"]
            changes = run["changed_queries"]
            rows.append({
                "dataset": dataset,
                "objective": objective_of(run.get("config")),
                "invariance_weight": run["invariance_weight"],
                "train_s": run.get("train_s", 0.0),
                "epochs": run.get("epochs", 0),
                "features": best["features"],
                "setting": " | ".join(
                    post_processing(best["whiten_dims"], best["whiten_power"], best["expansion_k"])
                ) or "cosine",
                "precision_at_10": best["precision_at_10"],
                "lead_over_hog": round(
                    best["precision_at_10"] - baseline["best"]["precision_at_10"], 4
                ),
                **{change: changes[change] for change in PERTURBATIONS},
                "robust": all(
                    changes[change] >= floors.loc[(dataset, change), "precision_at_10"]
                    for change in PERTURBATIONS
                ),
            })  # fmt: skip
    return pd.DataFrame(rows)


def registered_validation_precision(results_dir: Path, dataset: str) -> float:
    """Validation precision@10 of ``<dataset>-best``, from notebook 12's study."""
    study = pd.read_csv(results_dir / ABLATION_FILE)
    recipe = pipeline_recipe(f"{dataset}-best")
    rows = study[study["dataset"] == dataset]
    chosen = [row for _, row in rows.iterrows() if matches_recipe(row, recipe)]
    if not chosen:
        raise LookupError(f"{ABLATION_FILE} has no row of {dataset}-best's pipeline")
    return float(chosen[0]["precision_at_10"])


def objective_verdict(table: pd.DataFrame, results_dir: Path) -> list[str]:
    """Notebook 12's rule, stated before any test: per dataset, the new objective that would
    replace the registered recipe is the most precise of those that pass the robustness rule,
    and only if its validation precision@10 is above the registered pipeline's."""
    lines = []
    for dataset, runs in table.groupby("dataset", sort=False):
        registered = registered_validation_precision(results_dir, dataset)
        new = runs[runs["invariance_weight"] > 0]  # the reconstruction recipes and HOG have none
        robust = new[new["robust"]].sort_values("precision_at_10", ascending=False)
        if robust.empty:
            lines.append(f"{dataset}: no new objective passes the robustness rule")
            continue
        best = robust.iloc[0]
        wins = best["precision_at_10"] > registered
        lines.append(
            f"{dataset}: the best robust new objective, {best['objective']} (weight "
            f"{best['invariance_weight']:g}), reaches validation precision@10 "
            f"{best['precision_at_10']:.4f} against the registered pipeline's {registered:.4f}: "
            + ("it replaces the registered recipe" if wins else "the registered recipe stays")
        )
    return lines
