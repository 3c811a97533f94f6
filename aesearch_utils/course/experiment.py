"""The steps every autoencoder notebook shares: evaluate a trained model, record the row,
say in sentences what the rows measured, and compare variants on a small budget (exercises).

Evaluation follows the course's protocol: reconstruction error on the
training split *and* the held-out test split, and retrieval with the test
images as queries against the training images as the gallery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aesearch_utils.course.measure import labelled, search_scores
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.noise import add_noise
from aesearch_utils.data.preprocessing import to_float32
from aesearch_utils.io import write_atomically
from aesearch_utils.search.array_cache import cached_statistics, file_identity
from aesearch_utils.search.encoders import Encoder, LayerEncoder, encode_images
from aesearch_utils.search.index import ImageIndex
from aesearch_utils.search.metrics import precision_at_k
from aesearch_utils.search.neighbours import nearest_neighbours
from aesearch_utils.training import TrainedAutoencoder, TrainingConfig, train_autoencoder
from aesearch_utils.training.evaluation import dead_dimensions, reconstruction_mse

RESULTS_FILE = "autoencoders.csv"
KEY_COLUMNS = ("model", "dataset", "latent_dim", "noise")


def evaluate(trained: TrainedAutoencoder, data: Dataset, k: int = 10) -> dict[str, Any]:
    """One results row: sizes, cost, train/test MSE, dead latent dimensions, precision@k."""
    model, config = trained.model, trained.config
    gallery_labels, _ = labelled(data, "evaluating retrieval")
    encoder = LayerEncoder.from_trained(trained)
    gallery = encode_images(encoder, data.x_train)
    index = ImageIndex(gallery, gallery_labels, encoder, data.image_shape)
    queries = encode_images(encoder, data.x_test)
    scores, _ = search_scores(index.query_vectors, queries, data, k=k, map_k=k)
    return {
        "model": config.model,
        "dataset": data.name,
        "noise": f"{config.noise} {config.noise_level:g}" if config.noise else "none",
        "latent_dim": model.latent_dim,
        "parameters": model.count_params(),
        "train_images": len(data.x_train),
        "test_images": len(data.x_test),
        "epochs_run": trained.epochs_run,
        "seconds_per_epoch": round(trained.seconds_per_epoch, 2),
        "train_mse": round(cached_reconstruction_mse(trained, data.x_train), 5),
        "test_mse": round(cached_reconstruction_mse(trained, data.x_test), 5),
        "dead_latent_dims": int(dead_dimensions(gallery).sum()),
        f"precision_at_{k}": scores[f"precision_at_{k}"],
    }


def lessons(rows: Sequence[Mapping[str, Any]], k: int = 10) -> list[str]:
    """What a chapter's rows (:func:`evaluate`'s) measured, as sentences with their numbers.

    Per model: how much worse new images are reconstructed than training images, the dead latent
    numbers, and the share of a query's ``k`` results that have its class; for several models,
    whether the lowest test error and the best search belong to the same one.
    """
    precision = f"precision_at_{k}"
    lines = []
    for row in rows:
        ratio = row["test_mse"] / row["train_mse"]
        fit = (
            "about as well as the training images (it generalises, it did not memorise)"
            if ratio < 1.1
            else f"{ratio:.2f} times worse than the training images (it memorised some)"
        )
        lines.append(
            f"{row['model']} on {row['dataset']}: test images are reconstructed {fit}, MSE "
            f"{row['test_mse']:.4f} against {row['train_mse']:.4f}; {row['dead_latent_dims']} of "
            f"its {row['latent_dim']} latent numbers are dead; {row[precision]:.1%} of a test "
            f"query's {k} nearest training images show its class."
        )
    if len(rows) > 1:
        lowest = min(rows, key=lambda row: row["test_mse"])
        best = max(rows, key=lambda row: row[precision])
        lines.append(
            f"The lowest test error and the best search are both {best['model']}'s."
            if lowest is best
            else f"The lowest test error is {lowest['model']}'s, the best search "
            f"{best['model']}'s: a lower reconstruction error does not always mean better search."
        )
    return lines


def recorded_rows(
    results_dir: Path, dataset: str, models: Sequence[str], file_name: str = RESULTS_FILE
) -> list[dict[str, Any]]:
    """The recorded rows (no noise) of ``models`` on ``dataset``: another chapter's results,
    for a comparison; empty where that chapter has not run into ``results_dir``."""
    path = results_dir / file_name
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    chosen = table[
        table["model"].isin(models) & (table["dataset"] == dataset) & (table["noise"] == "none")
    ]
    return chosen.to_dict("records")


def side_by_side(
    configs: Mapping[str, TrainingConfig], data: Dataset, dataset: str, k: int = 10
) -> pd.DataFrame:
    """Train (or load) each config on ``data`` and evaluate it: one row per label.

    The exercises compare a changed model with the chapter's on the same small budget, so
    the difference is the change's, not the budget's.
    """
    columns = ["parameters", "epochs_run", "seconds_per_epoch", "train_mse", "test_mse",
               "dead_latent_dims", f"precision_at_{k}"]  # fmt: skip
    rows = {}
    for label, config in configs.items():
        trained = train_autoencoder(config, data.x_train, data.y_train, dataset=dataset)
        rows[label] = evaluate(trained, data, k)
    return pd.DataFrame.from_dict(rows, orient="index")[columns]


def cached_reconstruction_mse(trained: TrainedAutoencoder, images: np.ndarray) -> float:
    """:func:`~aesearch_utils.training.evaluation.reconstruction_mse`, kept in the array cache
    under the trained model's file, so that a rerun does not reconstruct the images again."""
    identity = file_identity(trained.path)

    def compute() -> tuple[np.ndarray]:
        return (np.float64(reconstruction_mse(trained.model, images)),)

    if identity is None:
        return float(compute()[0])
    (mse,) = cached_statistics(f"reconstruction mse|{identity}", images, compute)
    return float(mse)


def precision_under_noise(
    encoder: Encoder,
    data: Dataset,
    kind: str,
    levels: Sequence[float],
    seed: int = 0,
    k: int = 10,
) -> list[float]:
    """precision@k of noisy test queries against the clean training gallery, per noise level.

    ``encoder`` turns images into vectors, e.g. a
    :class:`~aesearch_utils.search.encoders.PixelEncoder` for the raw-pixel baseline;
    what it has encoded before (with the same noise, which is seeded) is read back from the
    :mod:`~aesearch_utils.search.array_cache`. The gallery is encoded once, without noise.
    """
    gallery_labels, query_labels = labelled(data, "measuring precision")
    gallery = encode_images(encoder, data.x_train)
    clean_queries = to_float32(data.x_test)
    precisions = []
    for level in levels:
        queries = encode_images(encoder, add_noise(clean_queries, kind, level, seed=seed))
        neighbours, _ = nearest_neighbours(queries, gallery, k)
        precisions.append(round(precision_at_k(query_labels, gallery_labels[neighbours], k), 4))
    return precisions


def record(
    rows: dict[str, Any] | list[dict[str, Any]],
    results_dir: Path,
    file_name: str = RESULTS_FILE,
    key_columns: Sequence[str] = KEY_COLUMNS,
) -> Path:
    """Merge ``rows`` into the results CSV, replacing earlier rows with the same key."""
    new = pd.DataFrame([rows] if isinstance(rows, dict) else rows)
    path = results_dir / file_name
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=new.columns)
    if len(table):
        old_keys = table[list(key_columns)].astype(str).agg("\x1f".join, axis=1)
        new_keys = new[list(key_columns)].astype(str).agg("\x1f".join, axis=1)
        table = table[~old_keys.isin(set(new_keys))]
    table = pd.concat([table, new], ignore_index=True) if len(table) else new
    table = table.sort_values(list(key_columns), kind="stable")
    return write_atomically(path, lambda temporary: table.to_csv(temporary, index=False))


def noise_robustness_record(
    vae: TrainedAutoencoder, levels: Sequence[float], precision: dict[str, list[float]]
) -> dict[str, Any]:
    """Notebook 07's results: the VAE's final losses and precision@10 per query-noise level
    for each model (written to ``results/07_vae_<dataset>.json``, the README's VAE table)."""
    return {
        "latent_dim": vae.model.latent_dim,
        "epochs": vae.epochs_run,
        "final_epoch": {name: round(values[-1], 5) for name, values in vae.history.items()},
        "noise_levels": list(levels),
        "precision_at_10": precision,
    }


def _levels_in_words(levels: Sequence[float]) -> str:
    """``noise level 0.0``, ``noise levels 0.2 and 0.4``, ``noise levels 0.0, 0.2 and 0.4``."""
    words = [f"{level:.1f}" for level in levels]
    if len(words) == 1:
        return f"noise level {words[0]}"
    return f"noise levels {', '.join(words[:-1])} and {words[-1]}"


def noise_robustness_verdict(
    levels: Sequence[float], precision: dict[str, list[float]], model: str, reference: str
) -> list[str]:
    """Sentences: per noise level, ``model``'s precision against ``reference``'s; then whether
    the seed reports' claim (``model`` is more robust) holds at every level."""
    gains = [
        ours - theirs for ours, theirs in zip(precision[model], precision[reference], strict=True)
    ]
    lines = [
        f"noise {level:.1f}: {model} {'+' if gain >= 0 else '-'}{abs(gain):.3f} against the "
        f"{reference}"
        for level, gain in zip(levels, gains, strict=True)
    ]
    ahead = [level for level, gain in zip(levels, gains, strict=True) if gain > 0]
    if len(ahead) == len(gains):
        lines.append(
            f"The seeds' robustness claim holds here: the {model} is ahead at every level."
        )
    else:
        lines.append(
            f"The seeds' robustness claim does not hold here: the {model} is ahead "
            + (f"only at {_levels_in_words(ahead)}." if ahead else "at no noise level.")
        )
    return lines
