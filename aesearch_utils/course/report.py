"""Markdown tables for the README, generated from the results files.

The README marks each generated table with ``<!-- table:NAME -->`` ...
``<!-- /table -->``; ``python -m aesearch_utils.course.report`` rewrites what lies
between the marks from ``results/``, and ``--check`` only reports whether the
README is up to date (a test runs that check), so no number in the README is
typed by hand.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from aesearch_utils import config
from aesearch_utils.course.ablation import (
    ABLATION_FILE,
    ROBUSTNESS_FILE,
    TARGETS,
    clean_trained_twin,
    examined_pipelines,
    target_verdict,
    twin_effect,
    unrooted_twin,
)
from aesearch_utils.course.benchmark import CLASSIC_BASELINES, COURSE_MODELS, verdict
from aesearch_utils.course.machine import machine_line
from aesearch_utils.course.objectives import (
    LONGER_FILE,
    OBJECTIVES_FILE,
    objective_runs,
    objective_verdict,
)
from aesearch_utils.course.robustness import CLEAN
from aesearch_utils.course.run import RERUN_TIMES_FILE, TIME_GOALS_MINUTES, TIMES_FILE
from aesearch_utils.course.seed_reports import reported
from aesearch_utils.data.dataset import DATASETS
from aesearch_utils.data.perturbations import PERTURBATIONS
from aesearch_utils.errors import UnknownNameError
from aesearch_utils.io import write_atomically
from aesearch_utils.service.metrics import SEARCH_STAGES

_TABLE = re.compile(r"(<!-- table:(?P<name>[a-z0-9_]+) -->\n).*?(<!-- /table -->)", re.DOTALL)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _read(results_dir: Path, file_name: str) -> dict[str, Any]:
    return json.loads((results_dir / file_name).read_text(encoding="utf-8"))


def _catalogue_order(per_dataset: dict[str, Any]) -> list[tuple[str, Any]]:
    """Datasets in the catalogue's order (MNIST, Fashion-MNIST, CIFAR-10), others after."""
    order = list(DATASETS)
    return sorted(
        per_dataset.items(),
        key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]),
    )


def datasets_table(results_dir: Path) -> str:
    summary = _read(results_dir, "01_datasets.json")
    rows = [
        [
            name,
            f"{info['train_images']:,} / {info['test_images']:,}",
            "x".join(str(size) for size in info["image_shape"]),
            f"{min(info['train_class_counts']):,} to {max(info['train_class_counts']):,}",
            " ".join(f"{value:.4f}" for value in info["train_pixel_mean"]),
            " ".join(f"{value:.4f}" for value in info["train_pixel_std"]),
        ]
        for name, info in _catalogue_order(summary)
    ]
    header = ["dataset", "train / test", "image", "train images per class", "pixel mean", "std"]
    return markdown_table(header, rows)


def data_loading_table(results_dir: Path) -> str:
    measured = _read(results_dir, "data_loading.json")
    machine = measured["machine"]
    rows = [
        [
            name,
            info["source"],
            f"{info['first_load_s']:.2f} s",
            f"{info['cached_load_median_s']:.2f} s",
        ]
        for name, info in _catalogue_order(measured["datasets"])
    ]
    table = markdown_table(["dataset", "read from", "first load", "cached load (median)"], rows)
    return table + f"\n{machine_line(machine)}\n"


def notebook_times_table(results_dir: Path) -> str:
    """The full profile's wall times: a first run from empty caches, then a rerun with
    everything cached (where measured). A total is the whole run's wall clock: its notebooks'
    times, and the start of the first kernel (the others start while a notebook runs)."""
    first = _read(results_dir, TIMES_FILE)
    rerun = (
        _read(results_dir, RERUN_TIMES_FILE) if (results_dir / RERUN_TIMES_FILE).is_file() else {}
    )
    rerun_seconds = rerun.get("seconds", {})
    rows = [
        [name, f"{seconds:.0f} s", f"{rerun_seconds[name]:.0f} s" if name in rerun_seconds else ""]
        for name, seconds in sorted(first["seconds"].items())
    ]
    rows.append(
        [
            "**total** (the whole run, wall clock)",
            f"{first['wall_seconds'] / 60:.1f} min",
            f"{rerun['wall_seconds'] / 60:.1f} min" if rerun else "",
        ]
    )
    header = ["notebook (full profile)", "first run, empty caches", "rerun, everything cached"]
    return (
        markdown_table(header, rows)
        + f"\n{_time_goals(first, rerun)} {machine_line(first['machine'])}\n"
    )


def _time_goals(first: dict[str, Any], rerun: dict[str, Any]) -> str:
    """One line: each of the class hour's goals (:data:`TIME_GOALS_MINUTES`), met or missed,
    for two records of :mod:`~aesearch_utils.course.run` (``rerun`` may be empty)."""
    goals = TIME_GOALS_MINUTES

    def total(name: str, record: dict[str, Any]) -> str:
        minutes = record["wall_seconds"] / 60
        met = _met(minutes <= goals[name])
        return f"{name} within {goals[name]} min: {met} ({minutes:.1f} min)"

    over = sorted(
        {
            name
            for record in (first, rerun)
            for name, seconds in record.get("seconds", {}).items()
            if seconds > goals["notebook"] * 60
        }
    )
    parts = [total("first run", first)] + ([total("rerun", rerun)] if rerun else [])
    parts.append(
        f"every notebook within {goals['notebook']} min: {_met(not over)}"
        + (f" (over it: {', '.join(over)})" if over else "")
    )
    return "Goals: " + "; ".join(parts) + "."


def _met(met: bool) -> str:
    return "met" if met else "**missed**"


def training_speed_table(results_dir: Path) -> str:
    """``benchmarks/training_speed.py``: seconds per epoch per model, backend and batch size."""
    record = _read(results_dir, "training_speed.json")
    table = pd.DataFrame(record["rows"])
    table["setting"] = table["backend"] + ", batch " + table["batch_size"].astype(str)
    wide = table.pivot_table(
        index=["dataset", "model"], columns="setting", values="seconds_per_epoch", sort=False
    )
    rows = [
        [dataset, model, *("" if pd.isna(value) else f"{value:.1f}" for value in values)]
        for (dataset, model), values in zip(wide.index, wide.to_numpy(), strict=True)
    ]
    table = markdown_table(["dataset", "model", *(f"{name} (s)" for name in wide.columns)], rows)
    return table + (
        f"\nMean of {record['epochs_timed']} epochs on {record['images_timed']:,} images, "
        f"scaled to the whole training split. {machine_line(record['machine'])}\n"
    )


def autoencoders_table(results_dir: Path) -> str:
    """Our train/test MSE beside the seed reports' training MSE, per model and dataset."""
    table = pd.read_csv(results_dir / "autoencoders.csv")
    table = table[table["noise"] == "none"]
    table = _in_catalogue_order(table, "model")

    def quoted(model: str, source: str, dataset: str) -> str:
        value = reported(model, source, dataset)
        return "" if value is None else f"{value:g}"

    rows = [
        [
            row.model,
            row.dataset,
            f"{row.train_images:,}",
            row.latent_dim,
            f"{row.parameters:,}",
            row.epochs_run,
            f"{row.seconds_per_epoch:.1f}",
            f"{row.train_mse:.4f}",
            f"{row.test_mse:.4f}",
            quoted(row.model, "report A", row.dataset),
            quoted(row.model, "report B", row.dataset),
            quoted(row.model, "them", row.dataset),
            f"{row.precision_at_10:.3f}",
            row.dead_latent_dims,
        ]
        for row in table.itertuples()
    ]
    header = [
        "model", "dataset", "training images", "latent", "parameters", "epochs", "s/epoch",
        "train MSE",
        "test MSE", "report A (train)", "report B (train)", "them (train)", "P@10", "dead dims",
    ]  # fmt: skip
    return markdown_table(header, rows)


def search_speed_table(results_dir: Path) -> str:
    """Exact and approximate search speed from ``benchmarks/search_speed.py``."""
    measured = _read(results_dir, "search_speed.json")
    single = measured["exact_single_query_60000_32d_ms"]
    rows = [
        [f"exact, 10,000 queries x 60,000, {dim}-D", f"{seconds:.2f} s", ""]
        for dim, seconds in (
            (32, measured["exact_10000_queries_60000_gallery_32d_s"]),
            (784, measured["exact_10000_queries_60000_gallery_784d_s"]),
        )
    ]
    latency = f"p50 {single['p50']:.2f} ms, p95 {single['p95']:.2f} ms"
    rows.append(["exact, one query against 60,000, 32-D", latency, ""])
    for name, hnsw in measured.items():
        if not name.startswith("hnsw_"):
            continue
        size = int(name.split("_")[1])
        rows.append(
            [
                f"HNSW build, {size:,} x 32-D",
                f"{hnsw['build_s']:.0f} s, {hnsw['index_mib']:.0f} MiB",
                "",
            ]
        )
        rows += [
            [
                f"HNSW query, efSearch {setting['ef_search']}",
                f"p50 {setting['query_p50_ms']:.2f} ms, p95 {setting['query_p95_ms']:.2f} ms",
                f"{setting['recall_at_10']:.3f}",
            ]
            for setting in hnsw["by_ef_search"]
        ]
    machine = measured["machine"]
    table = markdown_table(["search", "time", "recall@10 vs exact"], rows)
    return table + f"\n{machine_line(machine)}\n"


def _benchmark_profiles(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Per (dataset, features): the profile whose notebook 11 measures the row. The full one
    measures the course's models (:data:`~aesearch_utils.course.benchmark.COURSE_MODELS`),
    raw pixels, PCA of their latent sizes and the classic descriptors; the extended one
    everything else."""
    course = table[
        [features in COURSE_MODELS.get(dataset, ()) for dataset, features in
         zip(table["dataset"], table["features"], strict=True)]
    ]  # fmt: skip
    full = {(dataset, "raw_pixels") for dataset in table["dataset"]}
    full |= {(dataset, spec) for dataset, specs in CLASSIC_BASELINES.items() for spec in specs}
    full |= {(row.dataset, row.features) for row in course.itertuples()}
    full |= {(row.dataset, f"pca_{row.latent_dim}") for row in course.itertuples()}
    return {
        (dataset, features): "full" if (dataset, features) in full else "extended"
        for dataset, features in zip(table["dataset"], table["features"], strict=True)
    }


def benchmark_table(results_dir: Path) -> str:
    """Notebook 11: every model and baseline per dataset, both metrics side by side, and the
    profile that measures each row."""
    table = pd.read_csv(results_dir / "benchmark.csv")
    profiles = _benchmark_profiles(table)
    wide = table.pivot_table(
        index=["dataset", "features", "kind", "latent_dim"],
        columns="metric",
        values=["precision_at_10", "map_at_100", "seed_precision_at_7", "query_ms_p50"],
    )
    costs = table.groupby(["dataset", "features"])[
        ["test_mse", "train_seconds", "encode_images_per_s"]
    ].first()
    order = {name: index for index, name in enumerate(DATASETS)}
    keys = sorted(
        wide.index,
        key=lambda key: (
            order.get(key[0], len(order)),
            key[2] != "baseline",  # baselines first
            -wide.loc[key, ("precision_at_10", "cosine")],
        ),
    )

    def both(key: tuple, column: str) -> str:
        return " / ".join(
            f"{wide.loc[key, (column, metric)]:.3f}" for metric in ("euclidean", "cosine")
        )

    rows = []
    for key in keys:
        dataset, features, kind, latent_dim = key
        cost = costs.loc[(dataset, features)]
        name = f"*{features}*" if kind == "baseline" else features
        rows.append(
            [
                dataset, name, latent_dim, both(key, "precision_at_10"), both(key, "map_at_100"),
                both(key, "seed_precision_at_7"),
                "" if pd.isna(cost.test_mse) else f"{cost.test_mse:.4f}",
                f"{cost.train_seconds:.0f}", f"{cost.encode_images_per_s:,.0f}",
                f"{wide.loc[key, ('query_ms_p50', 'cosine')]:.2f}", profiles[(dataset, features)],
            ]
        )  # fmt: skip
    header = [
        "dataset", "features", "latent", "P@10 (eucl. / cos.)", "mAP@100 (eucl. / cos.)",
        "seed P@7 (eucl. / cos.)", "test MSE", "train s", "encode img/s", "query ms (cos.)",
        "profile",
    ]  # fmt: skip
    return markdown_table(header, rows)


def benchmark_verdict(results_dir: Path) -> str:
    """The benchmark's plain-words verdict, as a list, from the same results file."""

    table = pd.read_csv(results_dir / "benchmark.csv")
    table = _in_catalogue_order(table)
    sentences = verdict(table) + verdict(table, "map_at_100")
    return "".join(f"- {sentence}\n" for sentence in sentences)


def best_pipelines_table(results_dir: Path) -> str:
    """Notebook 12: each dataset's registered pipeline beside the baselines, with 95 % bootstrap
    intervals, the winner's lead over each baseline, and the targets."""

    table = pd.read_csv(results_dir / "12_best_pipelines.csv")
    table = _in_catalogue_order(table, "kind")
    rows = []
    for row in table.itertuples():
        targets = TARGETS.get(row.dataset)
        winner = row.kind == "autoencoder"
        rows.append(
            [
                row.dataset,
                f"**{row.pipeline}**" if winner else row.pipeline,
                row.steps.replace(" | ", " → "),  # a pipe would split the cell
                _against(row.precision_at_10, targets.precision_at_10 if winner else None)
                + _interval(row.precision_at_10_low, row.precision_at_10_high),
                _against(row.map_at_100_retrieved, targets.map_at_100_retrieved if winner else None)
                + _interval(row.map_at_100_retrieved_low, row.map_at_100_retrieved_high),
                f"{row.map_at_100:.3f}",
                "" if winner else f"{row.margin:+.3f}" + _interval(row.margin_low, row.margin_high),
                f"{row.train_seconds + row.fit_seconds:.0f}",
                f"{row.query_ms_p50:.2f}",
            ]
        )
    header = [
        "dataset", "pipeline", "steps", "P@10 [95 % CI]", "mAP@100 (retrieved) [95 % CI]",
        "mAP@100 (strict)", "winner's lead, P@10 [95 % CI]", "train + fit s", "query ms",
    ]  # fmt: skip
    return markdown_table(header, rows)


def best_pipelines_verdict(results_dir: Path) -> str:
    """Notebook 12's verdict sentences, computed from its results file."""
    table = _in_catalogue_order(pd.read_csv(results_dir / "12_best_pipelines.csv"), "kind")
    return "".join(f"- {line}\n" for line in target_verdict(table))


def headline_table(results_dir: Path) -> str:
    """The front page's three results: each registered pipeline's test P@10 beside the best
    baseline pipeline's, and its lead with the lead's 95 % bootstrap interval."""
    table = _in_catalogue_order(pd.read_csv(results_dir / "12_best_pipelines.csv"), "kind")
    rows = []
    for dataset, group in table.groupby("dataset", sort=False):
        model = group[group["kind"] == "autoencoder"].iloc[0]
        baselines = group[group["kind"] == "baseline"]
        best = baselines.loc[baselines["precision_at_10"].idxmax()]
        low, high = best["margin_low"], best["margin_high"]
        outcome = "a win" if low > 0 else "a loss" if high < 0 else "within noise"
        rows.append([
            dataset, f"`{model['pipeline']}`",
            f"{model['precision_at_10']:.3f} [{model['precision_at_10_low']:.3f}, "
            f"{model['precision_at_10_high']:.3f}]",
            f"{best['pipeline']}: {best['precision_at_10']:.3f}",
            f"{best['margin']:+.3f} [{low:+.3f}, {high:+.3f}], {outcome}",
        ])  # fmt: skip
    header = ["dataset", "autoencoder pipeline", "test P@10 [95 % CI]", "best baseline",
              "lead [95 % CI]"]  # fmt: skip
    return markdown_table(header, rows)


def augmentation_table(results_dir: Path) -> str:
    """Notebook 12's validation study: each augmented recipe against its twin trained on clean
    images (best validation precision@10 of each)."""
    header = ["dataset", "augmented recipe", "validation P@10", "clean-trained twin", "difference"]
    return _twin_table(results_dir, clean_trained_twin, header)


def root_table(results_dir: Path) -> str:
    """Notebook 12's validation study: each ``+root`` candidate against its twin without the
    square roots (best validation precision@10 of each)."""
    header = ["dataset", "features with +root", "validation P@10", "without +root", "difference"]
    return _twin_table(results_dir, unrooted_twin, header)


def _twin_table(results_dir: Path, twin_of: Callable[[str], str | None], header: list[str]) -> str:
    table = pd.read_csv(results_dir / ABLATION_FILE)
    rows = []
    for dataset, group in _in_catalogue_order(table).groupby("dataset", sort=False):
        for row in twin_effect(group, twin_of).itertuples(index=False):
            rows.append(
                [dataset, row.features, f"{row[1]:.4f}", f"{row[2]:.4f}", f"{row.difference:+.4f}"]
            )
    return markdown_table(header, rows)


def validation_robustness_table(results_dir: Path) -> str:
    """Notebook 12's robustness step of the rule: the pipelines it examined on validation, in
    its order, with clean and changed validation precision@10."""
    table = pd.read_csv(results_dir / ABLATION_FILE)
    robustness = pd.read_csv(results_dir / ROBUSTNESS_FILE)
    rows = []
    for dataset, group in _in_catalogue_order(table).groupby("dataset", sort=False):
        shown = examined_pipelines(group, robustness[robustness["dataset"] == dataset])
        for number, row in enumerate(shown.itertuples(index=False)):
            scores = [f"{getattr(row, change):.3f}" for change in (CLEAN, *PERTURBATIONS)]
            rows.append(
                [dataset if number == 0 else "", f"{row.features} → {row.steps}", *scores,
                 "reference" if number == 0 else "yes" if row[-1] else "no"]
            )  # fmt: skip
    header = ["dataset", "pipeline (validation)", *(CLEAN, *PERTURBATIONS), "at least raw's"]
    return markdown_table(header, rows)


def robustness_shortfalls(results_dir: Path) -> str:
    """Per dataset, the query changes under which the winner's precision@10 falls below raw
    pixels' or the best baseline pipeline's (point estimates; notebook 12 prints the paired
    intervals)."""
    table = _in_catalogue_order(pd.read_csv(results_dir / "12_robustness.csv"))
    lines = []
    for dataset, group in table.groupby("dataset", sort=False):
        winner, baseline, raw = dict.fromkeys(group["pipeline"])
        scores = group.pivot(index="change", columns="pipeline", values="precision_at_10")
        for reference in (raw, baseline):
            below = scores[scores[winner] < scores[reference]]
            listed = ", ".join(
                f"{change} ({row[winner]:.3f} vs {row[reference]:.3f})"
                for change, row in below.iterrows()
            )
            lines.append(
                f"{dataset}: {winner} is below {reference} under {listed}"
                if listed
                else f"{dataset}: {winner} is at least level with {reference} under every change"
            )
    return "".join(f"- {line}\n" for line in lines)


def robustness_table(results_dir: Path) -> str:
    """Notebook 12: precision@10 of the winner, the best baseline pipeline and raw pixels when
    the test queries are changed; each dataset's first row names its pipelines."""
    table = _in_catalogue_order(pd.read_csv(results_dir / "12_robustness.csv"))
    rows = []
    for dataset, group in table.groupby("dataset", sort=False):
        names = list(dict.fromkeys(group["pipeline"]))  # winner, best baseline, raw pixels
        scores = group.set_index(["change", "pipeline"])
        for number, change in enumerate(dict.fromkeys(group["change"])):
            cells = []
            for name in names:
                score = scores.loc[(change, name)]
                cells.append(
                    f"{score['precision_at_10']:.3f}"
                    + _interval(score["precision_at_10_low"], score["precision_at_10_high"])
                )
            label = f"{dataset} ({' / '.join(names)})" if number == 0 else ""
            rows.append([label, change, *cells])
    header = [
        "dataset (winner / best baseline pipeline / raw pixels)", "query change",
        "winner P@10 [95 % CI]", "best baseline pipeline", "raw pixels, cosine",
    ]  # fmt: skip
    return markdown_table(header, rows)


def seed_spread_table(results_dir: Path) -> str:
    """``benchmarks/seed_spread.py``: each winner's test scores per training seed, mean and
    standard deviation (the seeds' training times stay in the file: those runs shared the CPU
    with other work, so they are not speed figures)."""
    measured = _read(results_dir, "seed_spread.json")
    rows = []
    for row in measured["rows"]:
        runs = row["runs"]
        rows.append(
            [
                row["pipeline"],
                ", ".join(str(run["seed"]) for run in runs),
                ", ".join(f"{run['precision_at_10']:.4f}" for run in runs),
                f"{row['precision_at_10_mean']:.4f} ± {row['precision_at_10_sd']:.4f}",
                ", ".join(f"{run['map_at_100_retrieved']:.4f}" for run in runs),
                f"{row['map_at_100_retrieved_mean']:.4f} ± {row['map_at_100_retrieved_sd']:.4f}",
            ]
        )
    header = [
        "pipeline", "training seeds", "P@10 per seed", "P@10 mean ± sd",
        "mAP@100 (retrieved) per seed", "mean ± sd",
    ]  # fmt: skip
    return markdown_table(header, rows)


def graph_reranking_table(results_dir: Path) -> str:
    """``benchmarks/graph_reranking.py``: per registered pipeline, on its validation split, its
    own re-ranking, plain cosine search, and the best setting of each graph re-ranking, with
    the lead over the registered re-ranking and its paired bootstrap interval."""
    table = pd.read_csv(results_dir / "graph_reranking.csv")
    # each method's best row, shown in the file's order (the benchmark's)
    best = (
        table.sort_values("precision_at_10", ascending=False, kind="stable")
        .drop_duplicates(["pipeline", "base", "method"])
        .sort_index()
    )
    rows = []
    for row in best.itertuples(index=False):
        setting = "" if pd.isna(row.k) else f" (k {row.k:.0f}, {row.parameter:g})"
        rows.append(
            [
                row.pipeline,
                f"{row.method}{setting}",
                row.base,
                f"{row.precision_at_10:.4f}",
                f"{row.map_at_100_retrieved:.4f}",
                "" if row.method == "registered" else
                f"{row.lead_over_registered:+.4f}{_interval(row.lead_low, row.lead_high)}",
            ]
        )  # fmt: skip
    header = [
        "pipeline", "re-ranking (best setting)", "on", "validation P@10", "mAP@100 (retrieved)",
        "lead over registered [95% interval]",
    ]  # fmt: skip
    return markdown_table(header, rows)


def encoder_variants_table(results_dir: Path) -> str:
    """``benchmarks/encoder_variants.py``: each winner's pipeline on validation with its model
    trained as registered and as each variant, and the training time of each."""
    measured = _read(results_dir, "encoder_variants.json")
    rows = [
        [
            row["pipeline"],
            row["model"],
            row["variant"],
            f"{row['parameters']:,}",
            f"{row['train_seconds']:.0f}",
            f"{row['precision_at_10']:.4f}",
            f"{row['map_at_100_retrieved']:.4f}",
        ]
        for row in measured["rows"]
    ]
    header = [
        "pipeline", "model", "trained", "parameters", "training s", "validation P@10",
        "mAP@100 (retrieved)",
    ]  # fmt: skip
    return markdown_table(header, rows) + f"\n{machine_line(measured['machine'])}\n"


def fine_tuning_table(results_dir: Path) -> str:
    """``benchmarks/fine_tuning.py``: each augmented recipe trained from scratch or fine-tuned
    from the plain model, validation scores of one pipeline, and which the rule chose."""
    measured = _read(results_dir, "fine_tuning.json")
    rows = []
    for row in measured["rows"]:
        chosen = row["recipe"] == "fine-tuned" and row["epochs"] == measured["chosen_epochs"]
        recipe = f"{row['recipe']}, {row['epochs']} epochs"
        rows.append(
            [
                row["dataset"],
                row["features"],
                f"**{recipe}** (chosen)" if chosen else recipe,
                f"{row['train_seconds']:.0f}",
                f"{row['precision_at_10']:.4f}",
                f"{row['map_at_100_retrieved']:.4f}",
            ]
        )
    header = [
        "dataset", "pipeline (validation)", "augmented recipe",
        "training s (plain model included)", "validation P@10", "mAP@100 (retrieved)",
    ]  # fmt: skip
    return markdown_table(header, rows) + f"\n{machine_line(measured['machine'])}\n"


def objectives_table(results_dir: Path, file_name: str = OBJECTIVES_FILE) -> str:
    """``benchmarks/objectives.py`` (notebook 14): each training objective's best validation
    pipeline beside HOG's, its training cost, and notebook 12's robustness rule."""
    table = objective_runs(results_dir, file_name)
    rows = [
        [
            row.dataset,
            row.objective,
            f"{row.invariance_weight:g}" if row.invariance_weight else "",
            f"{row.train_s:.0f} ({row.epochs})" if row.epochs else "",
            f"{row.features} → {row.setting}".replace(" | ", " → "),  # a pipe splits a cell
            f"{row.precision_at_10:.4f}",
            f"{row.lead_over_hog:+.4f}",
            f"{row.shift:.4f}",
            f"{row.rotation:.4f}",
            "yes" if row.robust else "no",
        ]
        for row in table.itertuples()
    ]
    header = [
        "dataset", "objective", "invariance weight", "training s (epochs)",
        "best validation pipeline", "P@10", "lead over HOG", "shifted", "rotated",
        "every change >= raw cosine",
    ]  # fmt: skip
    machine = json.loads((results_dir / file_name).read_text(encoding="utf-8"))["machine"]
    return markdown_table(header, rows) + f"\n{machine_line(machine)}\n"


def objectives_verdict(results_dir: Path) -> str:
    """Notebook 12's rule applied to the objectives, per dataset."""
    table = objective_runs(results_dir)
    return "".join(f"- {line}\n" for line in objective_verdict(table, results_dir))


def _in_catalogue_order(table: pd.DataFrame, *then: str) -> pd.DataFrame:
    order = {name: index for index, name in enumerate(DATASETS)}
    return table.sort_values(
        ["dataset", *then],
        key=lambda column: column.map(order) if column.name == "dataset" else column,
        kind="stable",
    )


def _interval(low: float, high: float) -> str:
    return f" [{low:.3f}, {high:.3f}]"


def _against(value: float, target: float | None) -> str:
    if target is None:
        return f"{value:.3f}"
    # four decimals where three would round a miss up to the target (0.8397 -> 0.840)
    shown = f"{value:.3f}" if round(value, 3) != target or value >= target else f"{value:.4f}"
    return f"{shown} ({'≥' if value >= target else '<'} {target:g})"


def vae_table(results_dir: Path) -> str:
    """Notebook 07: the VAE's two loss parts, and AE vs VAE precision under query noise."""
    sections = []
    for path in sorted(results_dir.glob("07_vae_*.json")):
        measured = json.loads(path.read_text(encoding="utf-8"))
        dataset = path.stem.removeprefix("07_vae_")
        final = measured["final_epoch"]
        precision = measured["precision_at_10"]
        rows = [
            [f"{level:g}", *(f"{precision[label][index]:.3f}" for label in precision)]
            for index, level in enumerate(measured["noise_levels"])
        ]
        table = markdown_table(
            ["query noise (std)", *(f"{label} P@10" for label in precision)], rows
        )
        sections.append(
            f"{dataset}, {measured['latent_dim']}-D codes, {measured['epochs']} epochs; the VAE's "
            f"validation loss at the last epoch: reconstruction {final['val_reconstruction']:.4f} "
            f"+ KL {final['val_kl']:.4f} (per pixel).\n\n" + table
        )
    return "\n".join(sections)


def pipeline_reopen_table(results_dir: Path) -> str:
    """``benchmarks/pipeline_reopen.py``: a saved pipeline reopened in a fresh process."""
    measured = _read(results_dir, "pipeline_reopen.json")
    machine = measured["machine"]
    seconds = {key: f"{measured[key]:.2f} s" for key in measured if key.endswith("_s")}
    rows = [
        ["build: encode the gallery, fit whitening and re-ranking", seconds["build_fit_s"]],
        ["save (one folder, atomic)", f"{seconds['save_s']}, {measured['saved_mib']} MiB"],
        ["import the search core (`aesearch_utils.search`)", seconds["import_search_core_s"]],
        ["import Keras (its model needs it)", seconds["import_keras_s"]],
        ["`SearchPipeline.open`", seconds["open_s"]],
        [
            f"same top 10 as the built pipeline, all {measured['test_queries']:,} test queries",
            "yes" if measured["same_top10_every_query"] else "**no**",
        ],
    ]  # fmt: skip
    table = markdown_table(
        [f"{measured['pipeline']}, {measured['gallery_images']:,} images", "time"], rows
    )
    return table + (f"\nMedian of {measured['repeats']} fresh processes. {machine_line(machine)}\n")


def service_load_table(results_dir: Path) -> str:
    """``benchmarks/service_load.py``: the loads against the service, its goal line, and where
    a search's time went inside it, stage by stage."""
    measured = _read(results_dir, "service_load.json")
    goals, runs = measured["goals"], measured["runs"]
    rows = [
        [
            run["name"],
            f"{run['service']['searches_per_s']:.1f}",
            "{latency_p50_ms:.0f} / {latency_p95_ms:.0f} / {latency_p99_ms:.0f} ms".format(
                **run["service"]
            ),
            f"{run['service']['errors']} of "
            f"{run['service']['searches'] + run['service']['errors']:,}",
            f"{run['mean_batch']:.1f}",
            f"{run['service']['client_cpu_ms_per_search']:.2f} ms",
        ]
        for run in runs
    ]
    rows.append(["in-process, 1 thread", f"{measured['in_process_searches_per_s']:.1f}",
                 "", "", "1", ""])  # fmt: skip
    header = [
        f"{measured['gallery']} ({measured['gallery_images']:,} images), "
        f"{measured['seconds']:.0f} s each",
        "searches/s", "latency p50 / p95 / p99", "errors", "mean batch",
        "load generator CPU per search",
    ]  # fmt: skip
    goal = runs[0]["service"]
    line = (
        f"Goals for {runs[0]['name']}: p99 at most {goals['latency_p99_ms_at_most']} ms: "
        f"{_met(goal['latency_p99_ms'] <= goals['latency_p99_ms_at_most'])} "
        f"({goal['latency_p99_ms']:.0f} ms); at least {goals['searches_per_s_at_least']} "
        f"searches/s: {_met(goal['searches_per_s'] >= goals['searches_per_s_at_least'])} "
        f"({goal['searches_per_s']:.1f}); no error: {_met(goal['errors'] == goals['errors'])}."
    )
    stages = [
        [stage.replace("_", " "), *(f"{run['stages_ms'][stage]:.2f}" for run in runs)]
        for stage in SEARCH_STAGES
    ]
    stages.append(
        ["whole request, inside the service", *(f"{run['request_ms']:.1f}" for run in runs)]
    )
    stage_header = ["stage (mean ms per search)", *(run["name"] for run in runs)]
    return (
        markdown_table(header, rows)
        + f"\n{line}\n\n"
        + markdown_table(stage_header, stages)
        + f"\n{machine_line(measured['machine'])}\n"
    )


def store_scale_table(results_dir: Path) -> str:
    """``benchmarks/store_scale.py``: a million vectors in each view of the store."""
    measured = _read(results_dir, "store_scale.json")
    names = {
        "embedded": "embedded (SQLite + FAISS)",
        "milvus_lite": "Milvus Lite",
        "milvus_server": "Milvus server (standalone 2.3.5, FLAT)",
    }
    rows = [
        [
            names[kind],
            f"{view['rows']:,}",
            f"{view['insert_s']:.0f} s ({view['insert_rows_per_s']:,} rows/s)",
            f"{view['reopen_s']:.2f} s",
            f"{view['reopen_peak_rss_mib']:,} MiB",
            f"{view['query_p50_ms']:.1f} ms ({measured['queries'][kind]} queries)",
            f"{view['recall_at_10']:.3f}",
            f"{view['disk_mib']:,} MiB",
        ]
        for kind, view in ((kind, measured[kind]) for kind in names if kind in measured)
    ]
    header = [
        f"{measured['dim']}-D vectors", "rows", "insert (batches of 10,000)", "reopen",
        "peak memory", "one query, p50", "recall@10", "on disk",
    ]  # fmt: skip
    machine = measured["machine"]
    return markdown_table(header, rows) + (f"\n{machine_line(machine)}\n")


def gallery_scale_table(results_dir: Path) -> str:
    """``benchmarks/gallery_scale.py``: the mnist-best gallery grown to a million images, each
    size searched exactly and with HNSW, its reopening, and the goals met or missed."""
    measured = _read(results_dir, "gallery_scale.json")
    chosen = measured["chosen_ef_search"]
    rows = []
    for size in measured["by_size"]:
        exact = size["exact"]
        hnsw = next(s for s in size["hnsw"] if s["ef_search"] == chosen)
        rows.append(
            [
                f"{size['items']:,}",
                f"{exact['query_p50_ms']:.2f} / {exact['query_p99_ms']:.2f} ms",
                f"{hnsw['query_p50_ms']:.2f} / {hnsw['query_p99_ms']:.2f} ms",
                f"{hnsw['recall_at_10']:.3f}",
                f"{exact['precision_at_10']:.4f} / {hnsw['precision_at_10']:.4f}",
                f"{size['exact_build_s']:.1f} / {size['hnsw_build_s']:.1f} s",
                f"{size['exact_mib']:,.0f} / {size['hnsw_mib']:,.0f} MiB",
            ]
        )
    header = [
        "gallery images", "exact: p50 / p99", f"HNSW (efSearch {chosen}): p50 / p99",
        "HNSW recall@10", "precision@10 exact / HNSW", "build exact / HNSW",
        "memory exact / HNSW",
    ]  # fmt: skip
    names = {
        "hnsw_saved": "HNSW, read from its checkpoint",
        "exact_from_record": "exact, built from the record",
        "exact_saved": "exact, read from its checkpoint",
    }
    reopen_rows = [
        [
            names[name],
            f"{run['open_s']:.2f} s",
            f"{run['peak_rss_mib']:,.0f} MiB",
            f"{run['query_p50_ms']:.2f} / {run['query_p99_ms']:.2f} ms",
            f"{run['recall_at_10']:.3f}" if "recall_at_10" in run else "",
            f"{run['integrity_checked_s']:.1f} s",
            f"{run['first_add_s']:.2f} s",
        ]
        for name, run in measured["reopen"].items()
    ]
    reopen_header = [
        f"reopening {measured['size']:,} images", "Gallery.open", "peak memory",
        "Gallery.search_vectors: p50 / p99", "recall@10 vs exact", "record checked",
        "first addition",
    ]  # fmt: skip
    growth, disk = measured["growth"], measured["disk"]
    largest = measured["by_size"][-1]
    hnsw = next(s for s in largest["hnsw"] if s["ef_search"] == chosen)
    saved = measured["reopen"]["hnsw_saved"]

    def verdict(value: float, goal: float, at_most: bool) -> str:
        return "met" if (value <= goal if at_most else value >= goal) else "**missed**"

    goals = (
        f"Goals at {largest['items']:,}: one query's p50 at most {measured['p50_goal_ms']:g} ms, "
        f"{verdict(hnsw['query_p50_ms'], measured['p50_goal_ms'], True)} "
        f"({hnsw['query_p50_ms']:.2f} ms, against {largest['exact']['query_p50_ms']:.1f} ms "
        f"exact); recall@10 at least {measured['recall_goal']:g}, "
        f"{verdict(hnsw['recall_at_10'], measured['recall_goal'], False)} "
        f"({hnsw['recall_at_10']:.3f}); reopening in at most {measured['reopen_goal_s']:g} s, "
        f"{verdict(saved['open_s'], measured['reopen_goal_s'], True)} ({saved['open_s']:.2f} s)."
    )
    built = (
        f"Built: the {measured['pipeline']} gallery of 60,000 images in "
        f"{growth['build_60000_s']:.0f} s, then {growth['added']:,} changed copies added at "
        f"{growth['add_images_per_s']:,} images/s (encoding, augmentation, the record and "
        f"both HNSW graphs); peak memory {growth['peak_rss_mib']:,} MiB; on disk with both "
        f"graphs saved: {disk['total_mib']:,.0f} MiB (record {disk['record_mib']:,.0f} MiB, "
        f"checkpoint {disk['checkpoint_mib']:,.0f} MiB)."
    )
    return (
        markdown_table(header, rows)
        + "\n"
        + markdown_table(reopen_header, reopen_rows)
        + f"\n{built}\n\n{goals}\n\n{machine_line(measured['machine'])}\n"
    )


def gallery_index_costs(results_dir: Path) -> str:
    """The front page's summary of ``benchmarks/gallery_scale.py``: what each gallery index
    costs at the largest size measured."""
    measured = _read(results_dir, "gallery_scale.json")
    largest = measured["by_size"][-1]
    chosen = measured["chosen_ef_search"]
    hnsw = next(s for s in largest["hnsw"] if s["ef_search"] == chosen)
    reopen = measured["reopen"]
    rows = [
        [
            "exact",
            f"{largest['exact']['query_p50_ms']:.1f} ms",
            "1",
            f"{largest['exact_build_s']:.0f} s",
            f"{largest['exact_mib']:,.0f} MiB",
            f"{reopen['exact_saved']['open_s']:.1f} s",
        ],
        [
            f"hnsw (efSearch {chosen})",
            f"{hnsw['query_p50_ms']:.2f} ms",
            f"{hnsw['recall_at_10']:.3f}",
            f"{largest['hnsw_build_s']:.0f} s",
            f"{largest['hnsw_mib']:,.0f} MiB",
            f"{reopen['hnsw_saved']['open_s']:.1f} s",
        ],
    ]
    header = [
        f"index, {largest['items']:,} images", "one query, p50", "recall@10",
        "build", "memory", "reopen",
    ]  # fmt: skip
    return markdown_table(header, rows) + f"\n{machine_line(measured['machine'])}\n"


def container_image_table(results_dir: Path) -> str:
    """The front page's summary of ``benchmarks/container_image.py``: the image's size, and how
    long a container takes to answer."""
    measured = _read(results_dir, "container_image.json")
    image, cold, compose = (
        measured["image"],
        measured["cold_start"],
        measured["compose_with_milvus"],
    )
    gallery = f"`{measured['gallery']}`"
    starts = len(cold["runs"])
    rows = [
        [f"`podman run`, {gallery} in the volume (median of {starts})",
         f"{cold['median_answering_s']:.1f} s", f"{cold['median_first_search_ms']:,.0f} ms"],
        ["`podman restart` of that container (median)", f"{cold['median_restart_s']:.1f} s", ""],
        ["compose: Milvus (PyPI's server) to healthy", f"{compose['milvus_healthy_s']:.1f} s", ""],
        [f"compose: the service, {gallery} in that Milvus",
         f"{compose['service_answering_s']:.1f} s", f"{compose['first_search_ms']:,.0f} ms"],
    ]  # fmt: skip
    table = markdown_table(["start", "until /api/health answers", "first search"], rows)
    largest = ", ".join(
        f"{package['package']} {package['mib']:,} MiB"
        for package in image["largest_packages_mib"][:4]
    )
    return (
        f"{table}\nThe image: {image['bytes'] / 1e9:.2f} GB, of which "
        f"{image['base_bytes'] / 1e9:.2f} GB is its base (`{image['base']}`), built in "
        f"{image['build_s']:.0f} s without a layer cache; its largest packages: {largest}. "
        f"{machine_line(measured['machine'])}\n"
    )


TABLES: dict[str, Callable[[Path], str]] = {
    "best_pipelines": best_pipelines_table,
    "benchmark": benchmark_table,
    "benchmark_verdict": benchmark_verdict,
    "vae": vae_table,
    "search_speed": search_speed_table,
    "pipeline_reopen": pipeline_reopen_table,
    "service_load": service_load_table,
    "store_scale": store_scale_table,
    "gallery_scale": gallery_scale_table,
    "gallery_index_costs": gallery_index_costs,
    "container_image": container_image_table,
    "autoencoders": autoencoders_table,
    "datasets": datasets_table,
    "data_loading": data_loading_table,
    "notebook_times": notebook_times_table,
    "robustness": robustness_table,
    "augmentation": augmentation_table,
    "root": root_table,
    "fine_tuning": fine_tuning_table,
    "validation_robustness": validation_robustness_table,
    "robustness_shortfalls": robustness_shortfalls,
    "best_pipelines_verdict": best_pipelines_verdict,
    "seed_spread": seed_spread_table,
    "graph_reranking": graph_reranking_table,
    "encoder_variants": encoder_variants_table,
    "headline": headline_table,
    "training_speed": training_speed_table,
    "objectives": objectives_table,
    "objectives_longer": functools.partial(objectives_table, file_name=LONGER_FILE),
    "objectives_verdict": objectives_verdict,
}


def render_readme(text: str, results_dir: Path) -> str:
    """``text`` with every marked table regenerated from ``results_dir``."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise UnknownNameError("README table", name, TABLES)
        return match.group(1) + TABLES[name](results_dir) + match.group(3)

    return _TABLE.sub(replace, text)


REPORTS = ("README.md", "results/README.md")
"""The documents whose tables are generated: the front page and the full report."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aesearch_utils.course.report")
    parser.add_argument("--check", action="store_true", help="only report whether it is stale")
    arguments = parser.parse_args(argv)
    root = config.project_root()
    stale = 0
    for name in REPORTS:
        document = root / name
        current = document.read_text(encoding="utf-8")
        updated = render_readme(current, root / "results")
        if updated == current:
            continue
        if arguments.check:
            print(f"{name} tables are stale: run `make readme`", file=sys.stderr)
            stale = 1
        else:
            write_atomically(
                document, lambda temporary, text=updated: temporary.write_text(text, "utf-8")
            )
            print(f"{name} tables updated from results/")
    return stale


if __name__ == "__main__":
    sys.exit(main())
