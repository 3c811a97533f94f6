"""The validation ablation behind the registered pipelines (notebook 12).

Every choice (which features, whitening, re-ranking) is made on a validation
split carved from the training set: the gallery is the 90 % of the training
split the autoencoders were trained on, the queries are the other 10 %
(:func:`~aesearch_utils.data.train_validation_split` with the training seed,
the same split :func:`~aesearch_utils.training.train_autoencoder` holds out,
as long as both get the same seed). The test split is left for the final
measurement; :func:`chosen_settings` states the rule that turns the ablation
table into the registered recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aesearch_utils.course import experiment
from aesearch_utils.course.robustness import CLEAN
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.perturbations import PERTURBATIONS, perturb
from aesearch_utils.data.preprocessing import train_validation_split
from aesearch_utils.errors import DataNotFoundError, InvalidInputError, UnknownNameError
from aesearch_utils.search.array_cache import CostTimer
from aesearch_utils.search.encoders import Encoder, encode_images
from aesearch_utils.search.feature_spec import is_baseline, parse_features
from aesearch_utils.search.metrics import bootstrap_interval, precision_at_k, retrieval_scores
from aesearch_utils.search.pipeline import SearchPipeline, post_processing
from aesearch_utils.search.registry import PipelineRecipe, features_encoder
from aesearch_utils.search.whitening import principal_axes
from aesearch_utils.seeding import DEFAULT_SEED

if TYPE_CHECKING:  # Keras loads only when a candidate needs a model
    from aesearch_utils.training import TrainedAutoencoder


@dataclass(frozen=True)
class ValidationSplit:
    """Training images split into a gallery and held-out validation queries."""

    gallery: np.ndarray
    gallery_labels: np.ndarray
    queries: np.ndarray
    query_labels: np.ndarray


def validation_split(
    data: Dataset, fraction: float = 0.1, seed: int = DEFAULT_SEED
) -> ValidationSplit:
    """The training split minus the validation images, and the validation images."""
    if data.y_train is None:
        raise InvalidInputError(f"{data.name}: the validation ablation needs labelled images")
    gallery, gallery_labels, queries, query_labels = train_validation_split(
        data.x_train, data.y_train, fraction, seed=seed
    )
    return ValidationSplit(gallery, gallery_labels, queries, query_labels)


@dataclass(frozen=True)
class EncodedSplit:
    """One encoder's features of a validation split's gallery and queries."""

    encoder: Encoder
    gallery: np.ndarray
    queries: np.ndarray
    encode_seconds: float


def encode_split(encoder: Encoder, split: ValidationSplit) -> EncodedSplit:
    with CostTimer() as encoding:
        gallery = encode_images(encoder, split.gallery)
        queries = encode_images(encoder, split.queries)
    return EncodedSplit(encoder, gallery, queries, encoding.seconds)


def ablation_table(
    encoded: Iterable[EncodedSplit],
    settings: Iterable[dict[str, Any]],
    split: ValidationSplit,
    k: int = 10,
    map_k: int = 100,
) -> pd.DataFrame:
    """Validation scores of every encoder under every post-processing setting.

    ``settings`` are :class:`~aesearch_utils.search.pipeline.SearchPipeline`
    options; a whitening size larger than an encoder's features is skipped.
    """
    settings = list(settings)
    rows = []
    for features in encoded:
        axes = (
            principal_axes(features.gallery)
            if any(setting.get("whiten_dims") for setting in settings)
            else None
        )
        for setting in settings:
            dims = setting.get("whiten_dims")
            if dims and dims > features.gallery.shape[1]:
                continue
            with CostTimer() as searching:
                pipeline = SearchPipeline(features.encoder, **setting).fit_features(
                    features.gallery, split.gallery_labels, split.gallery.shape[1:], axes
                )
                labels = pipeline.query_features(features.queries, map_k).labels
            rows.append(
                {
                    "features": features.encoder.name,
                    "feature_dim": features.gallery.shape[1],
                    "whiten_dims": dims or 0,
                    "whiten_power": setting.get("whiten_power", 0.5) if dims else 0.0,
                    "expansion_k": setting.get("expansion_k", 0),
                    **retrieval_scores(split.query_labels, labels, split.gallery_labels, k, map_k),
                    "seconds": round(searching.seconds + features.encode_seconds, 1),
                }
            )
    return pd.DataFrame(rows)


CANDIDATES: dict[str, tuple[str, ...]] = {
    "mnist": (
        "raw", "pca:32", "hog",
        "dense:latent", "conv_fc_transpose:latent", "conv_fc_transpose:pool2",
        "conv_fc_transpose:pool2@128^0.5 + dense:latent@32^0.5",
        "conv_fc_transpose_augmented:pool2", "conv_fc_transpose_augmented:pool2+levels",
        "conv_fc_transpose_augmented:pool2+levels+unit",
        "conv_fc_transpose_augmented:pool1+levels+unit",
        "conv_fc_transpose_augmented:pool1+levels+unit@128^0.5"
        " + conv_fc_transpose_augmented:pool2+levels+unit@128^0.5",
        "conv_fc_transpose_augmented:pool2+levels+root+unit",
    ),
    "fashion_mnist": (
        "raw", "pca:32", "hog",
        "dense:latent", "conv_fc_transpose:latent", "conv_fc_transpose:pool1",
        "conv_fc_transpose:pool1+flip", "conv_fc_transpose:pool2",
        "conv_fc_transpose:pool1@128^0.75 + dense:latent@32^0.5",
        "conv_fc_transpose_augmented:pool1", "conv_fc_transpose_augmented:pool2",
        "conv_fc_transpose:pool1+levels@128^0.75 + dense:latent+levels@32^0.5",
        "conv_fc_transpose:pool1+levels@128^0.75 + conv_fc_transpose:pool2+levels@128^0.5"
        " + dense:latent+levels@32^0.5",
        "conv_fc_transpose:pool1+levels+root",
        "conv_fc_transpose:pool1+levels+root@256^0.75 + dense:latent+levels@32^0.5",
        "conv_fc_transpose_augmented:pool1+levels+root",
    ),
    "cifar10": (
        "raw", "pca:128", "hog", "colour:8", "colour:8@512^0 + hog@128^0.5",
        "conv_deep:latent", "conv_deep:pool3", "conv_deep:pool3+flip", "conv_deep:pool4+flip",
        "conv_deep_augmented:pool3", "conv_deep_augmented:pool3+flip",
        "conv_deep_augmented:pool3+levels+flip", "conv_deep_augmented:pool2+levels+flip",
        "conv_deep_augmented:pool2+levels+flip@256^0.5"
        " + conv_deep_augmented:pool3+levels+flip@256^0.5",
        "conv_deep_augmented:pool2+levels+flip+root", "conv_deep_augmented:pool3+levels+flip+root",
        "conv_deep_augmented:pool2+levels+flip+root@256^0.5"
        " + conv_deep_augmented:pool3+levels+flip+root@256^0.5",
    ),
}  # fmt: skip
"""Per dataset, the features the ablation compares (specs of
:func:`~aesearch_utils.search.registry.features_encoder`)."""

WHITENING_DIMS = (32, 64, 128, 256)
WHITENING_POWERS = (0.5, 0.75, 1.0)
EXPANSION_KS = (3, 5, 10)


def whitening_grid(
    dims: Iterable[int] = WHITENING_DIMS, powers: Iterable[float] = WHITENING_POWERS
) -> list[dict[str, Any]]:
    """Plain cosine search, then every whitening size and power."""
    powers = list(powers)
    return [{}] + [{"whiten_dims": d, "whiten_power": p} for d in dims for p in powers]


VALIDATION_GRIDS = ("all", "registered")
ABLATION_FILE = "12_ablation.csv"
ABLATION_KEY = ("dataset", "features", "whiten_dims", "whiten_power", "expansion_k")


def whole_study(
    data: Dataset,
    split: ValidationSplit,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    specs: Iterable[str] | None = None,
    models: Mapping[str, TrainedAutoencoder] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate (``specs``, default: all of ``data``'s dataset) under the whitening grid,
    then each one's best whitening with every re-ranking depth: the (whitening, re-ranking)
    validation tables. ``models`` (recipe name -> trained model) replaces a recipe's own
    training, as a study of one recipe's variants needs."""
    encoded = []
    for spec in CANDIDATES[data.name] if specs is None else specs:
        encoder = features_encoder(spec, data, split.gallery, epochs, seed, models=models)
        encoded.append(encode_split(encoder, split))
        dims, seconds = encoded[-1].gallery.shape[1], encoded[-1].encode_seconds
        print(f"{spec:<56} {dims:>5} features, {seconds:5.1f} s", flush=True)
    whitening = ablation_table(encoded, whitening_grid(), split)
    return whitening, reranking_table(encoded, best_rows(whitening), split)


def validation_study(
    grid: str,
    data: Dataset,
    split: ValidationSplit,
    results_dir: Path,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (whitening, re-ranking) validation tables of ``data``'s dataset.

    ``grid="all"`` measures the whole study and records it in ``results_dir``'s
    ``12_ablation.csv``; ``grid="registered"`` reads the study recorded there
    (by the extended profile) instead, for :func:`recheck` to measure its
    chosen row again, and measures (and records) only the candidates the
    record lacks.
    """
    if grid not in VALIDATION_GRIDS:
        raise UnknownNameError("validation grid", grid, VALIDATION_GRIDS)
    if grid == "all":
        rows = _measured_and_recorded(data, split, results_dir, epochs, seed)
    else:
        path = results_dir / ABLATION_FILE
        recorded = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["dataset"])
        rows = recorded[recorded["dataset"] == data.name].drop(columns="dataset")
        if rows.empty:
            raise DataNotFoundError(
                f"no validation study of {data.name} in {path}: run the whole grid first "
                "(VALIDATION_GRID = 'all', as the extended profile does)"
            )
        known = set(rows["features"])
        missing = [spec for spec in CANDIDATES.get(data.name, ()) if spec not in known]
        if missing:
            measured = _measured_and_recorded(data, split, results_dir, epochs, seed, missing)
            rows = pd.concat([rows, measured], ignore_index=True)
    reranked = rows["expansion_k"] > 0
    return rows[~reranked].reset_index(drop=True), rows[reranked].reset_index(drop=True)


def _measured_and_recorded(
    data: Dataset,
    split: ValidationSplit,
    results_dir: Path,
    epochs: int | None,
    seed: int,
    specs: Iterable[str] | None = None,
) -> pd.DataFrame:
    measured = pd.concat(whole_study(data, split, epochs, seed, specs), ignore_index=True)
    rows = measured.assign(dataset=data.name).to_dict("records")
    experiment.record(rows, results_dir, ABLATION_FILE, ABLATION_KEY)
    return measured


def recheck(
    row: pd.Series,
    data: Dataset,
    split: ValidationSplit,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """A validation row measured again by this run, beside its recorded scores."""
    encoder = features_encoder(row["features"], data, split.gallery, epochs, seed)
    again = ablation_table([encode_split(encoder, split)], [setting_of(row)], split).iloc[0]
    scores = ["precision_at_10", "map_at_100", "map_at_100_retrieved"]
    return pd.DataFrame(
        {"recorded": row[scores].astype(float), "this run": again[scores].astype(float)}
    ).assign(difference=lambda table: table["this run"] - table["recorded"])


def best_rows(table: pd.DataFrame, score: str = "precision_at_10") -> pd.DataFrame:
    """Per features, the row with the best ``score`` (ties: the better mAP@100)."""
    ranked = table.sort_values([score, "map_at_100"], ascending=False, kind="stable")
    return ranked.drop_duplicates("features").reset_index(drop=True)


def chosen_settings(table: pd.DataFrame, robustness: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The rule that picks the registered recipe: the validation rows of the best autoencoder
    pipeline and of the best baseline pipeline.

    Both by precision@10 (ties by mAP@100) with clean queries. The autoencoder pipeline must
    also be at least as precise as raw cosine search under every query change
    (:data:`~aesearch_utils.data.perturbations.PERTURBATIONS`) on the validation queries:
    the first that is, in order of clean precision (``robustness``: the rows
    :func:`robustness_study` recorded); when none is, the one whose largest shortfall is
    smallest.
    """
    best = best_rows(table)
    baseline = best["features"].map(is_baseline)
    if baseline.all() or not baseline.any():
        raise InvalidInputError("the ablation table needs autoencoder rows and baseline rows")

    chosen, _ = _robust_choice(best[~baseline], _recorded_scores(robustness))
    return chosen, best[baseline].iloc[0]


def examined_pipelines(table: pd.DataFrame, robustness: pd.DataFrame) -> pd.DataFrame:
    """The pipelines :func:`chosen_settings` examined for robustness, in its order (raw cosine
    search first): each one's clean and changed validation precision@10, and whether it is at
    least raw cosine search's under every change."""
    best = best_rows(table)
    _, examined = _robust_choice(
        best[~best["features"].map(is_baseline)], _recorded_scores(robustness)
    )
    rows = []
    for row, scores in examined:
        clean = table.loc[_same_pipeline(table, row), "precision_at_10"]
        steps = post_processing(row["whiten_dims"], row["whiten_power"], row["expansion_k"])
        rows.append(
            {"features": row["features"], "steps": " → ".join(steps) or "cosine",
             CLEAN: clean.iloc[0] if len(clean) else np.nan, **scores.to_dict()}
        )  # fmt: skip
    shown = pd.DataFrame(rows)
    reference = shown.iloc[0][list(PERTURBATIONS)]
    shown["at least raw's"] = (shown[list(PERTURBATIONS)] >= reference).all(axis=1)
    return shown


RAW_COSINE = pd.Series({"features": "raw", "whiten_dims": 0, "whiten_power": 0.0, "expansion_k": 0})
"""The reference of the robustness rule: raw pixels, plain cosine search."""
ROBUSTNESS_FILE = "12_validation_robustness.csv"
ROBUSTNESS_KEY = (*ABLATION_KEY, "change")


def robustness_study(
    grid: str,
    table: pd.DataFrame,
    data: Dataset,
    split: ValidationSplit,
    results_dir: Path,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Validation precision@10 under every query change of raw cosine search and of the
    autoencoder pipelines that :func:`chosen_settings` examines: in order of clean precision,
    up to the first at least as robust as raw cosine search (all of them when none is).

    Rows go to ``results_dir``'s ``12_validation_robustness.csv``; ``grid="registered"``
    reuses the rows recorded there and measures only the ones missing.
    """
    if grid not in VALIDATION_GRIDS:
        raise UnknownNameError("validation grid", grid, VALIDATION_GRIDS)
    path = results_dir / ROBUSTNESS_FILE
    known = pd.read_csv(path) if grid == "registered" and path.is_file() else None
    examined = []

    def measured(row: pd.Series) -> pd.Series:
        rows = known[known["dataset"] == data.name] if known is not None else None
        if rows is None or _scores_of(rows, row) is None:
            rows = pd.DataFrame(robustness_rows(row, data, split, epochs, seed))
            experiment.record(rows.to_dict("records"), results_dir, ROBUSTNESS_FILE, ROBUSTNESS_KEY)
        examined.append(rows[_same_pipeline(rows, row)])
        return _scores_of(rows, row)

    best = best_rows(table)
    _robust_choice(best[~best["features"].map(is_baseline)], measured)
    return pd.concat(examined, ignore_index=True)


def _robust_choice(
    candidates: pd.DataFrame, scores_of: Callable[[pd.Series], pd.Series]
) -> tuple[pd.Series, list[tuple[pd.Series, pd.Series]]]:
    """The rule's step 2, and the (row, scores) it examined: raw cosine search first."""
    reference = scores_of(RAW_COSINE)
    examined = [(RAW_COSINE, reference)]
    for _, row in candidates.iterrows():
        examined.append((row, scores_of(row)))
        if (examined[-1][1] >= reference).all():
            return row, examined
    shortfalls = [float((reference - scores).max()) for _, scores in examined[1:]]
    return candidates.iloc[int(np.argmin(shortfalls))], examined


def _recorded_scores(robustness: pd.DataFrame) -> Callable[[pd.Series], pd.Series]:
    def recorded(row: pd.Series) -> pd.Series:
        scores = _scores_of(robustness, row)
        if scores is None:
            raise DataNotFoundError(
                f"no validation robustness of {row['features']} {setting_of(row)}: run "
                "robustness_study over this ablation table first"
            )
        return scores

    return recorded


def robustness_rows(
    row: pd.Series,
    data: Dataset,
    split: ValidationSplit,
    epochs: int | None,
    seed: int,
    models: Mapping[str, TrainedAutoencoder] | None = None,
) -> list[dict[str, Any]]:
    """Validation precision@10 of ``row``'s pipeline under each query change of
    :data:`~aesearch_utils.data.perturbations.PERTURBATIONS` (``models`` as in
    :func:`whole_study`)."""
    encoder = features_encoder(row["features"], data, split.gallery, epochs, seed, models=models)
    pipeline = SearchPipeline(encoder, **setting_of(row)).fit(split.gallery, split.gallery_labels)
    rows = []
    for change in PERTURBATIONS:
        labels = pipeline.query(perturb(split.queries, change, seed), 10).labels
        rows.append(
            {"dataset": data.name, **{key: row[key] for key in ABLATION_KEY[1:]}, "change": change,
             "precision_at_10": round(precision_at_k(split.query_labels, labels, 10), 4)}
        )  # fmt: skip
    return rows


def _scores_of(robustness: pd.DataFrame, row: pd.Series) -> pd.Series | None:
    """Change -> validation precision@10 of ``row``'s pipeline, or None when not recorded."""
    same = _same_pipeline(robustness, row)
    if not same.any():
        return None
    return robustness[same].set_index("change")["precision_at_10"].reindex(list(PERTURBATIONS))


def _same_pipeline(rows: pd.DataFrame, row: pd.Series) -> pd.Series:
    return (
        (rows["features"] == row["features"])
        & (rows["whiten_dims"].astype(int) == int(row["whiten_dims"]))
        & np.isclose(rows["whiten_power"].astype(float), float(row["whiten_power"]))
        & (rows["expansion_k"].astype(int) == int(row["expansion_k"]))
    )


def matches_recipe(row: pd.Series, recipe: PipelineRecipe) -> bool:
    """Whether a validation row describes the same pipeline as a registered ``recipe``."""
    chosen = setting_of(row)
    settings = recipe.settings()
    if not chosen.get("whiten_dims"):
        chosen |= {"whiten_dims": None, "whiten_power": settings["whiten_power"]}
    return parse_features(row["features"]) == recipe.features and all(
        settings[key] == value for key, value in chosen.items()
    )


def setting_of(row: pd.Series) -> dict[str, Any]:
    """The :class:`~aesearch_utils.search.pipeline.SearchPipeline` options of an ablation row."""
    setting: dict[str, Any] = {"expansion_k": int(row["expansion_k"])}
    if row["whiten_dims"]:
        setting |= {
            "whiten_dims": int(row["whiten_dims"]),
            "whiten_power": float(row["whiten_power"]),
        }
    return setting


def reranking_table(
    encoded: Iterable[EncodedSplit],
    best_whitening: pd.DataFrame,
    split: ValidationSplit,
    ks: Iterable[int] = EXPANSION_KS,
) -> pd.DataFrame:
    """Each encoder's best whitening setting, with re-ranking over ``ks`` neighbours."""
    ks = list(ks)
    tables = []
    for features in encoded:
        setting = setting_of(best_whitening.set_index("features").loc[features.encoder.name])
        tables.append(ablation_table([features], [setting | {"expansion_k": k} for k in ks], split))
    return pd.concat(tables, ignore_index=True)


def twin_effect(rows: pd.DataFrame, twin_of: Callable[[str], str | None]) -> pd.DataFrame:
    """Each candidate's best validation precision@10 beside its twin's, where both were
    measured: ``twin_of`` names a spec's twin (:func:`clean_trained_twin`,
    :func:`unrooted_twin`), or None for a spec that has none."""
    best = best_rows(rows).set_index("features")["precision_at_10"]
    pairs = [(spec, twin_of(spec)) for spec in best.index]
    pairs = [(spec, twin) for spec, twin in pairs if twin in best.index]
    return pd.DataFrame(
        {
            "features": [spec for spec, _ in pairs],
            "P@10": [best[spec] for spec, _ in pairs],
            "P@10 twin": [best[twin] for _, twin in pairs],
        }
    ).assign(difference=lambda table: table["P@10"] - table["P@10 twin"])


def clean_trained_twin(spec: str) -> str | None:
    """An augmented recipe's spec with the same architecture trained on clean images."""
    from aesearch_utils.training.recipes import AUGMENTED

    return spec.replace(f"{AUGMENTED}:", ":") if f"{AUGMENTED}:" in spec else None


def unrooted_twin(spec: str) -> str | None:
    """A spec with ``+root`` modifiers, without them."""
    return spec.replace("+root", "") if "+root" in spec else None


def progression(whitening: pd.DataFrame, reranking: pd.DataFrame) -> pd.DataFrame:
    """Per features, the validation score after each step: cosine, + whitening, + re-ranking."""
    plain = whitening[whitening["whiten_dims"] == 0].assign(step="1 cosine")
    whitened = best_rows(pd.concat([plain, whitening[whitening["whiten_dims"] > 0]]))
    reranked = best_rows(pd.concat([whitened, reranking]))
    return pd.concat(
        [
            plain,
            whitened.assign(step="2 + whitening (best of grid, or none)"),
            reranked.assign(step="3 + DBA and query expansion (best k, or none)"),
        ],
        ignore_index=True,
    )


@dataclass(frozen=True)
class Targets:
    """One dataset's targets on the test split (issue 15)."""

    precision_at_10: float
    map_at_100_retrieved: float
    """mAP@100 over the relevant images retrieved (the definition issue 6 measured with)."""
    margin: float
    """precision@10 over the best baseline pipeline, classic descriptors included."""


TARGETS: dict[str, Targets] = {
    "mnist": Targets(0.985, 0.98, 0.01),
    "fashion_mnist": Targets(0.87, 0.86, 0.02),
    "cifar10": Targets(0.50, 0.48, 0.05),
}


def baseline_pipelines(
    data: Dataset, validation_rows: pd.DataFrame, seed: int = DEFAULT_SEED
) -> dict[str, tuple[SearchPipeline, float]]:
    """Raw pixels with plain cosine search (issue 6's baseline), and every baseline candidate
    (pixels, PCA, the classic descriptors) with the post-processing validation chose for it,
    each fitted on ``data``'s training split, with its fitting seconds."""
    best = best_rows(validation_rows)
    specs = {"raw pixels, cosine": ("raw", {})} | {
        f"{row['features']}, validation's best": (row["features"], setting_of(row))
        for _, row in best[best["features"].map(is_baseline)].iterrows()
    }
    pipelines = {}
    for name, (features, setting) in specs.items():
        with CostTimer() as fitting:
            encoder = features_encoder(features, data, data.x_train, seed=seed)
            pipeline = SearchPipeline(encoder, **setting).fit(data.x_train, data.y_train)
        pipelines[name] = (pipeline, fitting.seconds)
    return pipelines


def with_margins(
    measured: list[tuple[dict[str, Any], dict[str, np.ndarray]]], score: str = "precision_at_10"
) -> pd.DataFrame:
    """The results rows of one dataset (:func:`~aesearch_utils.course.measure.measure_pipeline`'s
    rows and per-query scores) with, on each baseline's row, the winner's (the autoencoder
    row's) lead over it and the 95 % paired bootstrap interval of that lead."""
    table = pd.DataFrame([row for row, _ in measured])
    winner = measured[int(np.flatnonzero(table["kind"] == "autoencoder")[0])][1][score]
    margins = []
    for row, per_query in measured:
        if row["kind"] == "autoencoder":
            margins.append({})
            continue
        difference = winner - per_query[score]
        low, high = bootstrap_interval(difference)
        margins.append(
            {"margin": round(float(difference.mean()), 4), "margin_low": round(low, 4),
             "margin_high": round(high, 4)}
        )  # fmt: skip
    return pd.concat([table, pd.DataFrame(margins)], axis=1)


def target_verdict(final: pd.DataFrame) -> list[str]:
    """Sentences: the autoencoder pipeline against the targets and its lead over the best
    baseline pipeline on the test split, each with its 95 % bootstrap interval; a lead is a
    win only when its interval lies above zero."""
    lines = []
    for dataset, group in final.groupby("dataset", sort=False):
        targets = TARGETS[dataset]
        model = group[group["kind"] == "autoencoder"].iloc[0]
        for score in ("precision_at_10", "map_at_100_retrieved"):
            target = getattr(targets, score)
            lines.append(
                f"{dataset} {score}: {model[score]:.4f} [{model[f'{score}_low']:.4f}, "
                f"{model[f'{score}_high']:.4f}], target {target:.3g} "
                f"{'met' if model[score] >= target else 'missed'} by "
                f"{abs(model[score] - target):.4f}"
            )
        baselines = group[group["kind"] == "baseline"]
        best = baselines.loc[baselines["precision_at_10"].idxmax()]
        low, high = best["margin_low"], best["margin_high"]
        outcome = "a win" if low > 0 else "a loss" if high < 0 else "within noise, not a win"
        lines.append(
            f"{dataset} lead over the best baseline pipeline ({best['pipeline']}, P@10 "
            f"{best['precision_at_10']:.4f}): {best['margin']:+.4f} [{low:+.4f}, {high:+.4f}], "
            f"{outcome}; target margin {targets.margin:+.2f} "
            f"{'met' if best['margin'] >= targets.margin else 'missed'}"
        )
    return lines
