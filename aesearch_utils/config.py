"""Where the project reads data and writes caches, models and outputs.

Every location can be moved with an environment variable, so nothing in the
code points at a machine-specific path:

``AESEARCH_DATA_DIR``
    Folder searched for dataset files before anything is downloaded
    (default: ``data/`` at the project root).
``AESEARCH_CACHE_DIR``
    Folder for decoded dataset arrays (default: ``data/cache/``).
``AESEARCH_HOME``
    The project root itself (default: the folder holding ``pyproject.toml``
    next to this package, or the current folder for a non-editable install).
``AESEARCH_OFFLINE``
    Set to ``1`` to never try a download.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_VARIABLE = "AESEARCH_DATA_DIR"
CACHE_DIR_VARIABLE = "AESEARCH_CACHE_DIR"
HOME_VARIABLE = "AESEARCH_HOME"
OFFLINE_VARIABLE = "AESEARCH_OFFLINE"


def _path_from_environment(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser().resolve() if value else None


def project_root() -> Path:
    """The project's root folder (holds ``notebooks/``, ``figures/``, ``data/``)."""
    configured = _path_from_environment(HOME_VARIABLE)
    if configured is not None:
        return configured
    source_checkout = Path(__file__).resolve().parent.parent
    if (source_checkout / "pyproject.toml").is_file():
        return source_checkout
    return Path.cwd()


def data_dir() -> Path:
    """The folder searched for dataset files."""
    return _path_from_environment(DATA_DIR_VARIABLE) or project_root() / "data"


def cache_dir() -> Path:
    """The folder for decoded dataset arrays."""
    return _path_from_environment(CACHE_DIR_VARIABLE) or project_root() / "data" / "cache"


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks."""
    return project_root() / "notebooks"


def downloads_allowed() -> bool:
    """False when ``AESEARCH_OFFLINE`` is set to a true value."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in {"1", "true", "yes"}
