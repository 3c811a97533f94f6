"""Run profiles: ``full`` (the real run, one class hour), ``extended`` and ``smoke``.

Every notebook's ``parameters`` cell holds the full profile's values. The smoke
profile overrides a few of them (fewer images, fewer epochs) so that CI can
execute every notebook in minutes; it writes into ``build/smoke/`` so that
running the tests never touches the committed ``figures/`` and ``results/``.
The full profile may run a notebook several times, once per variant (for
example once per dataset), to fill the results tables.

The ``extended`` profile is the full one plus the studies that do not fit in
an hour on a 2-core CPU: the chapters 02-06 and 09 on Fashion-MNIST too,
notebook 08 on every training image, the benchmark of every model on every
dataset (notebook 11) and the whole validation grid (notebook 12). Its results
are committed; the full profile shows them and measures again the part the
course depends on (see the README's "Profiles").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aesearch_utils import config
from aesearch_utils.errors import UnknownNameError

PROFILES = ("full", "extended", "smoke")
REPOSITORY_PROFILES = ("full", "extended")
"""The profiles that write into the repository's ``figures/`` and ``results/``."""

_SMALL_TRAINING = {"TRAIN_SIZE": 2000, "TEST_SIZE": 500, "EPOCHS": 2}
SMOKE_OVERRIDES: dict[str, dict[str, Any]] = {
    "01_data_and_sanity_checks": {"SAMPLES_SHOWN": 16},
    "02_dense_autoencoder": {**_SMALL_TRAINING, "DATASET": "mnist"},
    "03_conv_upsampling_autoencoder": {**_SMALL_TRAINING, "DATASET": "fashion_mnist"},
    "04_conv_transpose_autoencoder": {**_SMALL_TRAINING, "DATASET": "mnist"},
    "05_hybrid_conv_fc_autoencoders": {**_SMALL_TRAINING, "DATASET": "fashion_mnist"},
    "06_denoising_autoencoder": {**_SMALL_TRAINING, "DATASET": "mnist"},
    "07_variational_autoencoder": {
        **_SMALL_TRAINING,
        "PLANE_EPOCHS": 2,
        "SCATTER_POINTS": 500,
        "NOISE_LEVELS": [0.0, 0.5],
    },
    "08_recurrent_and_attention_autoencoders": {**_SMALL_TRAINING, "DATASET": "mnist"},
    "09_pairwise_distance_search": {**_SMALL_TRAINING, "DATASET": "mnist"},
    "10_cifar10_autoencoder": {**_SMALL_TRAINING, "SEED_EPOCHS": 2, "VISUAL_SAMPLES": 500},
    "11_benchmark": {**_SMALL_TRAINING, "EPOCHS": 1, "DATASET": "cifar10", "MODELS": "all"},
    "12_beating_the_baselines": {
        **_SMALL_TRAINING,
        "EPOCHS": 1,
        "DATASET": "mnist",
        "VALIDATION_GRID": "all",
    },
    "13_search_service": {**_SMALL_TRAINING, "EPOCHS": 1},
    "14_beyond_reconstruction": {"TRAIN_SIZE": 2000, "EPOCHS": 1, "DATASET": "mnist", "SHOWN": 500},
}
"""Per notebook (file name without ``.ipynb``): the parameters the smoke profile changes."""

_MNIST = [{"DATASET": "mnist"}]
_BOTH_MNISTS = [*_MNIST, {"DATASET": "fashion_mnist"}]
_ALL_DATASETS = [*_BOTH_MNISTS, {"DATASET": "cifar10"}]
_CHAPTERS = (
    "02_dense_autoencoder",
    "03_conv_upsampling_autoencoder",
    "04_conv_transpose_autoencoder",
    "05_hybrid_conv_fc_autoencoders",
    "06_denoising_autoencoder",
    "09_pairwise_distance_search",
)
FULL_VARIANTS: dict[str, list[dict[str, Any]]] = {
    **{chapter: _MNIST for chapter in _CHAPTERS},
    "11_benchmark": _ALL_DATASETS,
    "12_beating_the_baselines": _ALL_DATASETS,
}
"""Per notebook: the parameter sets the full profile runs it with (default: one run)."""

EXTENDED_VARIANTS: dict[str, list[dict[str, Any]]] = {
    **FULL_VARIANTS,
    **{chapter: _BOTH_MNISTS for chapter in _CHAPTERS},
}
EXTENDED_OVERRIDES: dict[str, dict[str, Any]] = {
    "08_recurrent_and_attention_autoencoders": {"TRAIN_SIZE": None},
    "11_benchmark": {"MODELS": "all"},
    "12_beating_the_baselines": {"VALIDATION_GRID": "all"},
}
"""Per notebook: the parameters the extended profile changes in every variant."""


@dataclass(frozen=True)
class OutputDirs:
    """Where a notebook run writes its figures and results files."""

    root: Path
    figures: Path
    results: Path
    galleries: Path
    """Search galleries: the service's own folder in the repository's profiles, else below
    ``root``."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise UnknownNameError("profile", profile, PROFILES)
    return profile


def output_dirs(profile: str, output_dir: str | Path = "") -> OutputDirs:
    """The folders for ``profile``, created if missing.

    An empty ``output_dir`` means the profile's default: the repository itself
    (``figures/``, ``results/``) for ``full`` and ``extended``, ``build/smoke/`` for ``smoke``.
    """
    check_profile(profile)
    if output_dir:
        root = Path(output_dir).resolve()
    elif profile in REPOSITORY_PROFILES:
        root = config.project_root()
    else:
        root = config.project_root() / "build" / profile
    galleries = (
        config.galleries_dir()
        if profile in REPOSITORY_PROFILES and not output_dir
        else root / "galleries"
    )
    dirs = OutputDirs(root, root / "figures", root / "results", galleries)
    dirs.figures.mkdir(parents=True, exist_ok=True)
    dirs.results.mkdir(parents=True, exist_ok=True)
    return dirs


@dataclass(frozen=True)
class NotebookRun:
    """One execution of a notebook: its parameters, and a label for its variant."""

    notebook: str
    label: str
    parameters: dict[str, Any]

    @property
    def name(self) -> str:
        """``02_dense_autoencoder`` or, for a variant, ``02_dense_autoencoder-mnist``."""
        return f"{self.notebook}-{self.label}" if self.label else self.notebook


def notebook_runs(notebook: str, profile: str, output_dir: str | Path = "") -> list[NotebookRun]:
    """The runs of ``notebook`` in ``profile``, with the parameters papermill injects."""
    check_profile(profile)
    base = {"PROFILE": profile, "OUTPUT_DIR": str(output_dir)}
    if profile == "smoke":
        return [NotebookRun(notebook, "", {**base, **SMOKE_OVERRIDES.get(notebook, {})})]
    extended = profile == "extended"
    variants = (EXTENDED_VARIANTS if extended else FULL_VARIANTS).get(notebook, [{}])
    overrides = EXTENDED_OVERRIDES.get(notebook, {}) if extended else {}
    return [
        NotebookRun(
            notebook,
            "-".join(str(value) for value in variant.values()),
            {**base, **variant, **overrides},
        )
        for variant in variants
    ]
