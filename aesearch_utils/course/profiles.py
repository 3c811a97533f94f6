"""Run profiles: ``full`` (the real run, results go into the repository) and ``smoke``.

Every notebook's ``parameters`` cell holds the full profile's values. The smoke
profile overrides a few of them (fewer images, fewer epochs) so that CI can
execute every notebook in minutes; it writes into ``build/smoke/`` so that
running the tests never touches the committed ``figures/`` and ``results/``.
The full profile may run a notebook several times, once per variant (for
example once per dataset), to fill the results tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aesearch_utils import config
from aesearch_utils.errors import UnknownNameError

PROFILES = ("full", "smoke")

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
    "10_cifar10_autoencoder": {**_SMALL_TRAINING, "VISUAL_SAMPLES": 500},
    "11_benchmark": {**_SMALL_TRAINING, "EPOCHS": 1, "DATASET": "cifar10"},
    "12_beating_the_baselines": {**_SMALL_TRAINING, "EPOCHS": 1, "DATASET": "mnist"},
    "13_search_service": {**_SMALL_TRAINING, "EPOCHS": 1},
}
"""Per notebook (file name without ``.ipynb``): the parameters the smoke profile changes."""

_BOTH_MNISTS = [{"DATASET": "mnist"}, {"DATASET": "fashion_mnist"}]
FULL_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "02_dense_autoencoder": _BOTH_MNISTS,
    "03_conv_upsampling_autoencoder": _BOTH_MNISTS,
    "04_conv_transpose_autoencoder": _BOTH_MNISTS,
    "05_hybrid_conv_fc_autoencoders": _BOTH_MNISTS,
    "06_denoising_autoencoder": _BOTH_MNISTS,
    "09_pairwise_distance_search": _BOTH_MNISTS,
    "11_benchmark": [*_BOTH_MNISTS, {"DATASET": "cifar10"}],
    "12_beating_the_baselines": [*_BOTH_MNISTS, {"DATASET": "cifar10"}],
}
"""Per notebook: the parameter sets the full profile runs it with (default: one run)."""


@dataclass(frozen=True)
class OutputDirs:
    """Where a notebook run writes its figures and results files."""

    root: Path
    figures: Path
    results: Path
    galleries: Path
    """Search galleries: the service's own folder in the full profile, else below ``root``."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise UnknownNameError("profile", profile, PROFILES)
    return profile


def output_dirs(profile: str, output_dir: str | Path = "") -> OutputDirs:
    """The folders for ``profile``, created if missing.

    An empty ``output_dir`` means the profile's default: the repository itself
    (``figures/``, ``results/``) for ``full``, ``build/smoke/`` for ``smoke``.
    """
    check_profile(profile)
    if output_dir:
        root = Path(output_dir).resolve()
    elif profile == "full":
        root = config.project_root()
    else:
        root = config.project_root() / "build" / profile
    galleries = (
        config.galleries_dir() if profile == "full" and not output_dir else root / "galleries"
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
    return [
        NotebookRun(
            notebook, "-".join(str(value) for value in variant.values()), {**base, **variant}
        )
        for variant in FULL_VARIANTS.get(notebook, [{}])
    ]
