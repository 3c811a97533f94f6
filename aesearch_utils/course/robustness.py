"""The robustness table (notebook 12): search with queries that are not gallery-clean.

Every test query goes through each change of
:data:`~aesearch_utils.data.perturbations.PERTURBATIONS` (a blur, a darker or
washed-out image, a shift, a rotation, sensor noise); the gallery stays as it
is. Each pipeline's precision@10 under each change, with its bootstrap
interval, says how much of its lead survives an image a user actually sends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aesearch_utils.course.measure import labelled
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.perturbations import PERTURBATIONS, perturb
from aesearch_utils.search.metrics import bootstrap_interval, precision_per_query
from aesearch_utils.search.pipeline import SearchPipeline

CLEAN = "none"


def robustness_table(
    pipelines: dict[str, SearchPipeline], data: Dataset, k: int = 10, seed: int = 0
) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Precision@k of each pipeline with the clean test queries and under every change.

    Returns one row per (change, pipeline) and each one's per-query precision,
    keyed by ``(change, pipeline)``, for paired comparisons (:func:`robustness_verdict`).
    """
    _, query_labels = labelled(data, "the robustness table")
    rows, per_query = [], {}
    for change in (CLEAN, *PERTURBATIONS):
        queries = data.x_test if change == CLEAN else perturb(data.x_test, change, seed)
        for name, pipeline in pipelines.items():
            values = precision_per_query(query_labels, pipeline.query(queries, k).labels, k)
            low, high = bootstrap_interval(values)
            per_query[change, name] = values
            rows.append(
                {
                    "dataset": data.name,
                    "change": change,
                    "pipeline": name,
                    f"precision_at_{k}": round(float(values.mean()), 4),
                    f"precision_at_{k}_low": round(low, 4),
                    f"precision_at_{k}_high": round(high, 4),
                }
            )
    return pd.DataFrame(rows), per_query


def robustness_verdict(
    per_query: dict[tuple[str, str], np.ndarray], winner: str, reference: str
) -> list[str]:
    """Per change: is ``winner`` at least as precise as ``reference`` (paired bootstrap)?"""
    lines = []
    for change in (CLEAN, *PERTURBATIONS):
        difference = per_query[change, winner] - per_query[change, reference]
        low, high = bootstrap_interval(difference)
        verdict = "ahead" if low > 0 else "behind" if high < 0 else "level (within noise)"
        lines.append(
            f"{change:<9} {winner} - {reference}: {difference.mean():+.4f} "
            f"[{low:+.4f}, {high:+.4f}] {verdict}"
        )
    return lines
