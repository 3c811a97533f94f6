"""The steps every autoencoder notebook shares: evaluate a trained model, record the row.

Evaluation follows the course's protocol: reconstruction error on the
training split *and* the held-out test split, and retrieval with the test
images as queries against the training images as the gallery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.noise import add_noise
from aesearch_utils.data.preprocessing import to_float32
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.evaluation import dead_dimensions, encode, reconstruction_mse
from aesearch_utils.io import write_atomically
from aesearch_utils.metrics import precision_at_k
from aesearch_utils.search import nearest_neighbours
from aesearch_utils.training import TrainedAutoencoder

RESULTS_FILE = "autoencoders.csv"
KEY_COLUMNS = ("model", "dataset", "latent_dim", "noise")


def evaluate(trained: TrainedAutoencoder, data: Dataset, k: int = 10) -> dict[str, Any]:
    """One results row: sizes, cost, train/test MSE, dead latent dimensions, precision@k."""
    model, config = trained.model, trained.config
    gallery = encode(model, data.x_train)
    queries = encode(model, data.x_test)
    neighbours, _ = nearest_neighbours(queries, gallery, k)
    if data.y_train is None or data.y_test is None:
        raise InvalidInputError(f"{data.name}: evaluating retrieval needs labelled images")
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
        "train_mse": round(reconstruction_mse(model, data.x_train), 5),
        "test_mse": round(reconstruction_mse(model, data.x_test), 5),
        "dead_latent_dims": int(dead_dimensions(gallery).sum()),
        f"precision_at_{k}": round(precision_at_k(data.y_test, data.y_train[neighbours], k), 4),
    }


def precision_under_noise(
    embed: Callable[[np.ndarray], np.ndarray],
    data: Dataset,
    kind: str,
    levels: Sequence[float],
    seed: int = 0,
    k: int = 10,
) -> list[float]:
    """precision@k of noisy test queries against the clean training gallery, per noise level.

    ``embed`` maps float images in [0, 1] to vectors: an encoder's ``encode``,
    e.g. :class:`~aesearch_utils.encoders.PixelEncoder` for the raw-pixel baseline.
    The gallery is embedded once, without noise.
    """
    if data.y_train is None or data.y_test is None:
        raise InvalidInputError(f"{data.name}: measuring precision needs labelled images")
    gallery = embed(to_float32(data.x_train))
    clean_queries = to_float32(data.x_test)
    precisions = []
    for level in levels:
        queries = embed(add_noise(clean_queries, kind, level, seed=seed))
        neighbours, _ = nearest_neighbours(queries, gallery, k)
        precisions.append(round(precision_at_k(data.y_test, data.y_train[neighbours], k), 4))
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
