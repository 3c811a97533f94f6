"""Benchmark: seconds per training epoch of each registered model, per batch size.

Usage: ``python benchmarks/training_speed.py [--dataset mnist] [--images 10000]
[--epochs 2] [--batch-sizes 128 256] [--models dense attention]
[--output results/training_speed.json]``

Each model is trained with its course recipe (``training.benchmark_config``)
on the first ``--images`` training images, uncached, for ``--epochs`` epochs;
the mean epoch time (the first epoch's tracing included, as in a real run) is
scaled to the whole training split, so that the figures read as "seconds per
epoch of the course's training". The Keras backend is whichever
``KERAS_BACKEND`` names (TensorFlow by default, with its oneDNN kernels on:
``TF_ENABLE_ONEDNN_OPTS=0`` measures TensorFlow's own default on a CPU
without AVX-512, a row of its own); rows of other backends and datasets
already in the output file are kept when they were measured on the same
machine, so one file compares them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from aesearch_utils import config
from aesearch_utils.backend import keras
from aesearch_utils.course.machine import machine_description
from aesearch_utils.data import load_dataset, subset
from aesearch_utils.io import write_json
from aesearch_utils.models import model_names
from aesearch_utils.training import benchmark_config, fits, train_autoencoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--models", nargs="+", default=None, help="default: every model that fits")
    parser.add_argument(
        "--output", type=Path, default=config.project_root() / "results" / "training_speed.json"
    )
    arguments = parser.parse_args()

    full = load_dataset(arguments.dataset)
    data = subset(full, arguments.images, None)
    scale = len(full.x_train) / len(data.x_train)
    backend = keras.backend.backend()
    if backend == "tensorflow" and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0":
        backend = "tensorflow, oneDNN off"
    machine = machine_description()
    earlier = json.loads(arguments.output.read_text()) if arguments.output.exists() else {}
    if earlier.get("machine") != machine:
        earlier = {}  # another machine's seconds are not comparable with this one's
    rows = [
        row
        for row in earlier.get("rows", [])
        if (row["dataset"], row["backend"]) != (arguments.dataset, backend)
    ]
    for name in arguments.models or model_names():
        for batch_size in arguments.batch_sizes:
            recipe = benchmark_config(name, data.image_shape, arguments.epochs)
            if not fits(recipe, data.image_shape):
                break
            recipe = dataclasses.replace(recipe, batch_size=batch_size)
            trained = train_autoencoder(
                recipe, data.x_train, data.y_train, dataset=data.name, use_cache=False
            )
            seconds = trained.seconds_per_epoch * scale
            rows.append(
                {
                    "dataset": arguments.dataset,
                    "backend": backend,
                    "model": name,
                    "batch_size": batch_size,
                    "seconds_per_epoch": round(seconds, 2),
                }
            )
            print(
                f"{backend} {arguments.dataset} {name:>20} batch {batch_size:>4}: {seconds:6.1f} s"
            )
    write_json(
        arguments.output,
        {
            "machine": machine,
            "images_timed": arguments.images,
            "epochs_timed": arguments.epochs,
            "rows": rows,
        },
    )
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
