"""Run profiles: ``full`` (the real run, results go into the repository) and ``smoke``.

Every notebook's ``parameters`` cell holds the full profile's values. The smoke
profile overrides a few of them (fewer images, fewer epochs) so that CI can
execute every notebook in minutes; it writes into ``build/smoke/`` so that
running the tests never touches the committed ``figures/`` and ``results/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aesearch_utils import config
from aesearch_utils.errors import UnknownNameError

PROFILES = ("full", "smoke")

SMOKE_OVERRIDES: dict[str, dict[str, Any]] = {
    "01_data_and_sanity_checks": {"SAMPLES_SHOWN": 16},
}
"""Per notebook (file name without ``.ipynb``): the parameters the smoke profile changes."""


@dataclass(frozen=True)
class OutputDirs:
    """Where a notebook run writes its figures and results files."""

    root: Path
    figures: Path
    results: Path


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
    dirs = OutputDirs(root=root, figures=root / "figures", results=root / "results")
    dirs.figures.mkdir(parents=True, exist_ok=True)
    dirs.results.mkdir(parents=True, exist_ok=True)
    return dirs


def notebook_parameters(notebook: str, profile: str, output_dir: str | Path = "") -> dict[str, Any]:
    """The parameters papermill injects into ``notebook`` for ``profile``."""
    check_profile(profile)
    overrides = SMOKE_OVERRIDES.get(notebook, {}) if profile == "smoke" else {}
    return {"PROFILE": profile, "OUTPUT_DIR": str(output_dir), **overrides}
