"""Where the project reads data and writes caches, models and outputs.

Every location can be moved with an environment variable, so nothing in the
code points at a machine-specific path:

``AESEARCH_DATA_DIR``
    Folder searched for dataset files before anything is downloaded
    (default: ``data/`` at the project root).
``AESEARCH_CACHE_DIR``
    Folder for decoded dataset arrays, encoded galleries and searches (default: ``data/cache/``).
``AESEARCH_HOME``
    The project root itself (default: the folder holding ``pyproject.toml``
    next to this package, or the current folder for a non-editable install).
``AESEARCH_OFFLINE``
    Set to ``1`` to never try a download.
``AESEARCH_GALLERIES_DIR``
    Folder of the search service's galleries (default: ``data/galleries/``).
``AESEARCH_ARRAY_CACHE``
    Set to ``0`` to stop keeping encoded galleries and exact searches in
    ``<cache dir>/arrays/`` (see :mod:`aesearch_utils.search.array_cache`).

A relative ``AESEARCH_DATA_DIR`` or ``AESEARCH_CACHE_DIR`` is taken relative to
the project root, not to the current folder: notebook kernels run inside
``notebooks/``, and the setting must mean the same folder there as in a shell
at the root.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_VARIABLE = "AESEARCH_DATA_DIR"
CACHE_DIR_VARIABLE = "AESEARCH_CACHE_DIR"
HOME_VARIABLE = "AESEARCH_HOME"
OFFLINE_VARIABLE = "AESEARCH_OFFLINE"
GALLERIES_DIR_VARIABLE = "AESEARCH_GALLERIES_DIR"
ARRAY_CACHE_VARIABLE = "AESEARCH_ARRAY_CACHE"
HEADLESS_VARIABLE = "AESEARCH_HEADLESS"
"""Set to ``1`` by the runner: notebooks print concise logs instead of progress bars."""


def _path_from_environment(variable: str, relative_to: Path | None = None) -> Path | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return path.resolve()


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
    root = project_root()
    return _path_from_environment(DATA_DIR_VARIABLE, root) or root / "data"


def cache_dir() -> Path:
    """The folder for decoded dataset arrays."""
    root = project_root()
    return _path_from_environment(CACHE_DIR_VARIABLE, root) or root / "data" / "cache"


def models_dir() -> Path:
    """The folder of trained models (the training cache)."""
    return project_root() / "data" / "models"


def galleries_dir() -> Path:
    """The folder of the search service's galleries."""
    root = project_root()
    return _path_from_environment(GALLERIES_DIR_VARIABLE, root) or root / "data" / "galleries"


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks."""
    return project_root() / "notebooks"


def is_headless() -> bool:
    """True inside notebooks executed by the runner (no one watches a progress bar)."""
    return os.environ.get(HEADLESS_VARIABLE) == "1"


def array_cache_enabled() -> bool:
    """False when ``AESEARCH_ARRAY_CACHE`` is set to a false value."""
    return os.environ.get(ARRAY_CACHE_VARIABLE, "").strip().lower() not in {"0", "false", "no"}


def downloads_allowed() -> bool:
    """False when ``AESEARCH_OFFLINE`` is set to a true value."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in {"1", "true", "yes"}
