"""Training autoencoders reproducibly, with a cache of trained models.

``train_autoencoder(config, images)`` seeds everything, builds the model,
fits it on a stratified 90/10 train/validation split of ``images`` (the
*training* split of a dataset: test images are for evaluation only), stops
early when the validation loss stops improving, and saves the result under
``data/models/``. The file name holds a hash of everything that changes the
result (the config, including model options, noise, seed and the recipe a
fine-tuning starts from, the training images themselves, and the source of
a builder defined in a notebook rather than in the package), so the same
parameters load the saved model instead of training again and any change
trains anew.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils import config as project_config
from aesearch_utils.backend import keras
from aesearch_utils.data.noise import add_noise
from aesearch_utils.data.perturbations import random_perturbations
from aesearch_utils.data.preprocessing import to_float32, train_validation_split
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.io import atomic_path, write_json
from aesearch_utils.models import Autoencoder, build_autoencoder
from aesearch_utils.models.registry import builder_fingerprint
from aesearch_utils.models.variational import GaussianSample
from aesearch_utils.seeding import set_seed
from aesearch_utils.training.invariance import TwoViewAutoencoder

MODEL_FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines a trained model, besides the training images."""

    model: str
    latent_dim: int
    options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    loss: str = "mse"
    validation_fraction: float = 0.1
    patience: int = 3
    noise: str | None = None
    """Denoising: corrupt the inputs with this noise kind (targets stay clean)."""
    noise_level: float = 0.0
    augment: bool = False
    """Invariance: every epoch, each input goes through new random changes of the kinds a user's
    upload brings (:func:`~aesearch_utils.data.perturbations.random_perturbations`: a shift,
    a small rotation, blur, brightness, contrast, noise); the targets stay clean."""
    seed: int = 0
    start_from: TrainingConfig | None = None
    """Fine-tuning: start from the weights of this recipe's model, trained (or loaded from the
    cache) on the same images, instead of from a fresh initialisation."""
    invariance_weight: float = 0.0
    """Above 0: VICReg's invariance term between two randomly changed views of each image joins
    the loss (see :mod:`aesearch_utils.training.invariance`)."""
    reconstruction_weight: float = 1.0
    """0 with an invariance weight: the encoder learns from the invariance term alone (the
    reference that is not an autoencoder)."""
    reconstruct_from: str = "clean"
    """With an invariance weight: the decoder reconstructs the clean image from the clean image
    (``clean``) or from each changed view (``views``)."""
    time_budget_s: float | None = None
    """Stop training after this many seconds (at the end of a batch), whatever the epochs left:
    objectives compared on equal budgets."""


OPTIONAL_FIELDS = {
    "augment": False, "start_from": None, "invariance_weight": 0.0,
    "reconstruction_weight": 1.0, "reconstruct_from": "clean", "time_budget_s": None,
}  # fmt: skip
"""Fields added after models were cached, with their defaults: each enters a model's cache key
only when it differs, so that the models trained before it keep their keys."""


@dataclass
class TrainedAutoencoder:
    """A trained model with its training record."""

    model: Autoencoder
    config: TrainingConfig
    history: dict[str, list[float]]
    seconds_per_epoch: float
    from_cache: bool
    path: Path
    start_seconds: float = 0.0
    """Training time of the model it started from (``TrainingConfig.start_from``), if any."""

    @property
    def epochs_run(self) -> int:
        return len(self.history["loss"])

    @property
    def train_seconds(self) -> float:
        """Training time of this model, including that of the model it started from."""
        return self.seconds_per_epoch * self.epochs_run + self.start_seconds


def models_dir() -> Path:
    return project_config.models_dir()


def cache_key(config: TrainingConfig, images: np.ndarray) -> str:
    """A hash of the config and of the training images' bytes and shape."""
    data_hash = hashlib.blake2b(np.ascontiguousarray(images).data, digest_size=16).hexdigest()
    settings = asdict(config)
    for added, default in OPTIONAL_FIELDS.items():
        if settings[added] == default:
            del settings[added]
    description = {
        "config": settings,
        "images": [list(images.shape), str(images.dtype), data_hash],
        "format": MODEL_FORMAT_VERSION,
        "keras": keras.__version__,
    }
    fingerprint = builder_fingerprint(config.model)
    if fingerprint is not None:
        description["builder"] = fingerprint
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train_autoencoder(
    config: TrainingConfig,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    dataset: str = "data",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> TrainedAutoencoder:
    """Train (or load the cached) autoencoder for ``images`` (uint8, ``(N, H, W, C)``).

    Args:
        labels: only used to stratify the validation split, never for training.
        dataset: a name for the cache file, to keep ``data/models/`` readable.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise InvalidInputError(
            "train_autoencoder expects the uint8 training images, shape (N, H, W, C); got "
            f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}"
        )
    folder = Path(cache_dir) if cache_dir is not None else models_dir()
    path = folder / f"{dataset}-{config.model}-{cache_key(config, images)}.keras"
    if use_cache:
        cached = _load(path, config)
        if cached is not None:
            return cached

    start = None
    if config.start_from is not None:
        if (config.start_from.model, config.start_from.latent_dim, config.start_from.options) != (
            config.model,
            config.latent_dim,
            config.options,
        ):
            raise InvalidInputError(
                f"fine-tuning {config.model} ({config.latent_dim}-D) must start from the same "
                f"model and code size, not {config.start_from.model} "
                f"({config.start_from.latent_dim}-D)"
            )
        start = train_autoencoder(
            config.start_from,
            images,
            labels,
            dataset=dataset,
            cache_dir=folder,
            use_cache=use_cache,
        )

    set_seed(config.seed)
    model = build_autoencoder(config.model, images.shape[1:], config.latent_dim, **config.options)
    if start is not None:
        model.autoencoder.set_weights(start.model.autoencoder.get_weights())
    scaled = to_float32(images)
    x_train, _, x_val, _ = train_validation_split(
        scaled, labels, config.validation_fraction, seed=config.seed
    )
    inputs_train, inputs_val = x_train, x_val
    if config.noise:
        inputs_train = add_noise(x_train, config.noise, config.noise_level, seed=config.seed)
        inputs_val = add_noise(x_val, config.noise, config.noise_level, seed=config.seed + 1)
    variational = is_variational(model)
    trained_model, validation = model.autoencoder, (inputs_val, x_val)
    if config.invariance_weight > 0:
        if variational:
            raise InvalidInputError(
                f"{config.model} is a VAE: the invariance term is for deterministic codes"
            )
        trained_model = TwoViewAutoencoder(
            model.encoder, model.decoder, config.invariance_weight,
            config.reconstruction_weight, config.reconstruct_from,
        )  # fmt: skip
        trained_model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        inputs = {"x": PerturbedBatches(x_train, config.batch_size, config.seed, views=2)}
        validation = PerturbedBatches(x_val, config.batch_size, config.seed + 1, views=2)
    else:
        model.autoencoder.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=config.loss,
            # a VAE's loss also holds the KL term: log the reconstruction part on its own
            metrics=[
                keras.metrics.MeanMetricWrapper(keras.losses.get(config.loss), "reconstruction")
            ]
            if variational
            else None,
        )
        if config.augment:
            inputs_val = random_perturbations(x_val, np.random.default_rng(config.seed + 1))
            validation = (inputs_val, x_val)
            inputs = {"x": PerturbedBatches(x_train, config.batch_size, config.seed)}
        else:
            inputs = {"x": inputs_train, "y": x_train, "batch_size": config.batch_size,
                      "shuffle": True}  # fmt: skip
    timer = EpochTimer()
    history = trained_model.fit(
        **inputs,
        validation_data=validation,
        epochs=config.epochs,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True
            ),
            timer,
            *([KLFromLoss()] if variational else []),
            *([TimeBudget(config.time_budget_s)] if config.time_budget_s else []),
            EpochLog(config.epochs),
        ],
    )
    trained = TrainedAutoencoder(
        model=model,
        config=config,
        history={name: [float(v) for v in values] for name, values in history.history.items()},
        seconds_per_epoch=float(np.mean(timer.seconds)),
        from_cache=False,
        path=path,
        start_seconds=start.train_seconds if start is not None else 0.0,
    )
    if use_cache:
        _save(trained)
    return trained


class PerturbedBatches(keras.utils.PyDataset):
    """Training batches of (randomly changed image, clean image), shuffled, new every epoch;
    with ``views=2``, of ((clean image, one changed view, another), clean image), for
    :class:`~aesearch_utils.training.invariance.TwoViewAutoencoder`.

    Each batch's order and changes come from ``(seed, epoch, batch)``, so a run
    is reproducible whatever order Keras asks for the batches in.
    """

    def __init__(self, images: np.ndarray, batch_size: int, seed: int, views: int = 1) -> None:
        super().__init__()
        self.images, self.batch_size, self.seed, self.views = images, batch_size, seed, views
        self.epoch = 0
        self.order = np.random.default_rng((seed, 0)).permutation(len(images))

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[batch * self.batch_size : (batch + 1) * self.batch_size])
        clean = self.images[rows]
        changes = np.random.default_rng((self.seed, self.epoch, batch))
        if self.views == 1:
            return random_perturbations(clean, changes), clean
        views = tuple(random_perturbations(clean, changes) for _ in range(self.views))
        return (clean, *views), clean

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.images))


def _save(trained: TrainedAutoencoder) -> None:
    # the model first, its record second: a record always has its model beside it
    with atomic_path(trained.path) as temporary:
        trained.model.autoencoder.save(temporary)
    record = {
        "config": asdict(trained.config),
        "history": trained.history,
        "seconds_per_epoch": trained.seconds_per_epoch,
        "start_seconds": trained.start_seconds,
    }
    write_json(trained.path.with_suffix(".json"), record)


def _load(path: Path, config: TrainingConfig) -> TrainedAutoencoder | None:
    record_path = path.with_suffix(".json")
    if not (path.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        autoencoder = keras.saving.load_model(path, compile=False)
        encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    except Exception as error:  # a truncated zip, bad JSON, a file from another version
        warnings.warn(
            f"ignoring unreadable cached model {path} ({error}); retraining", stacklevel=3
        )
        return None
    model = Autoencoder(config.model, encoder, decoder, autoencoder, dict(config.options))
    return TrainedAutoencoder(
        model=model,
        config=config,
        history=record["history"],
        seconds_per_epoch=record["seconds_per_epoch"],
        from_cache=True,
        path=path,
        start_seconds=record.get("start_seconds", 0.0),
    )


def is_variational(model: Autoencoder) -> bool:
    """Whether the encoder samples its code (a VAE), adding a KL term to the loss."""
    return any(isinstance(layer, GaussianSample) for layer in model.encoder.layers)


class KLFromLoss(keras.callbacks.Callback):
    """Adds ``kl`` (and ``val_kl``) to the epoch logs: the loss minus its reconstruction part.

    It must run before the callbacks that print or record the logs; Keras' own
    ``History`` runs last, so the history keeps both parts.
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for prefix in ("", "val_"):
            if f"{prefix}loss" in logs and f"{prefix}reconstruction" in logs:
                logs[f"{prefix}kl"] = logs[f"{prefix}loss"] - logs[f"{prefix}reconstruction"]


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first batch past ``seconds`` of training. The epoch's
    validation pass still runs after it (early stopping needs its loss), so a run's recorded
    time is the budget plus one validation pass."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.perf_counter() - self._start > self.seconds:
            self.model.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


class EpochLog(keras.callbacks.Callback):
    """Progress: a tqdm bar in JupyterLab, one concise line per epoch when headless.

    The runner sets ``AESEARCH_HEADLESS=1``, because a progress bar redrawn
    hundreds of times would fill an executed notebook with noise.
    """

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.headless = project_config.is_headless()
        self._bar: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        if not self.headless:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.epochs, desc="training", unit="epoch")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = {name: f"{value:.5f}" for name, value in (logs or {}).items()}
        if self._bar is not None:
            self._bar.set_postfix(values)
            self._bar.update(1)
        else:
            shown = "  ".join(f"{name} {value}" for name, value in values.items())
            elapsed = time.perf_counter() - self._start
            print(f"epoch {epoch + 1}/{self.epochs}  {shown}  ({elapsed:.0f} s)", flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
