"""One settings object: every ``AESEARCH_*`` variable the project reads, documented once.

Nothing in the code points at a machine-specific path or reads the environment
itself: it asks :func:`settings` (or one of the accessors below it, which read
the same object). A test or a program that wants other values builds its own
with ``dataclasses.replace(settings(), ...)`` and passes it on.

Where things are:

``AESEARCH_HOME``
    The project root itself (default: the folder holding ``pyproject.toml``
    next to this package, or the current folder for a non-editable install).
``AESEARCH_DATA_DIR``
    Folder searched for dataset files before anything is downloaded
    (default: ``data/`` at the project root).
``AESEARCH_CACHE_DIR``
    Folder for decoded dataset arrays, encoded galleries and searches (default: ``data/cache/``).
``AESEARCH_GALLERIES_DIR``
    Folder of the search service's galleries and its tenants (default: ``data/galleries/``).

How the course runs:

``AESEARCH_OFFLINE``
    Set to ``1`` to never try a download.
``AESEARCH_ARRAY_CACHE``
    Set to ``0`` to stop keeping encoded galleries and exact searches in
    ``<cache dir>/arrays/`` (see :mod:`aesearch_utils.search.array_cache`).
``AESEARCH_HEADLESS``
    Set to ``1`` by the runner: notebooks print concise logs instead of progress bars.

How the service runs (see :mod:`aesearch_utils.service`):

``AESEARCH_VECTORS_URI``
    Empty: the searched vectors live in the service's memory (FAISS); else a
    Milvus URI (see :mod:`aesearch_utils.search.vector_index.milvus`). A gallery
    built with a server's URI (not a Milvus Lite ``.db`` file) keeps its whole record
    there, and any number of service processes serve it (see
    :mod:`aesearch_utils.store.milvus_record`).
``AESEARCH_GALLERY_INDEX``
    How a gallery searches its vectors: ``exact``, ``hnsw`` (approximate), ``ivf`` (Milvus's
    ``IVF_FLAT``, with a Milvus URI only) or ``auto`` (the default: exact below
    :data:`~aesearch_utils.store.gallery.APPROXIMATE_FROM` items, HNSW from there).
``AESEARCH_GALLERY_EF_SEARCH``
    Candidates an HNSW search of a gallery examines (default :data:`GALLERY_EF_SEARCH`, what
    ``benchmarks/gallery_scale.py`` chose); more is slower and finds more of the true top 10.
``AESEARCH_MILVUS_TOKEN``
    Credentials for a Milvus server that wants them.
``AESEARCH_DEFAULT_GALLERY``
    The registered pipeline whose gallery ``aesearch serve`` builds on its first start, listed
    first (default ``mnist-best``).
``AESEARCH_WRITE_TOKEN``
    A token of the admin tenant kept out of the tenants file (a container's
    secret, say); at least :data:`MIN_TOKEN_LENGTH` characters.
``AESEARCH_MAX_UPLOAD_BYTES``
    The largest upload the service reads (default 5 MiB).
``AESEARCH_HEADER_TIMEOUT_S``, ``AESEARCH_BODY_TIMEOUT_S``
    How long a client may take to send a request's headers, and its body
    (defaults 10 s and 30 s), before the connection is closed.

A relative ``AESEARCH_DATA_DIR``, ``AESEARCH_CACHE_DIR`` or
``AESEARCH_GALLERIES_DIR`` is taken relative to the project root, not to the
current folder: notebook kernels run inside ``notebooks/``, and the setting
must mean the same folder there as in a shell at the root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aesearch_utils.errors import InvalidInputError

DATA_DIR_VARIABLE = "AESEARCH_DATA_DIR"
CACHE_DIR_VARIABLE = "AESEARCH_CACHE_DIR"
HOME_VARIABLE = "AESEARCH_HOME"
OFFLINE_VARIABLE = "AESEARCH_OFFLINE"
GALLERIES_DIR_VARIABLE = "AESEARCH_GALLERIES_DIR"
ARRAY_CACHE_VARIABLE = "AESEARCH_ARRAY_CACHE"
HEADLESS_VARIABLE = "AESEARCH_HEADLESS"
WRITE_TOKEN_VARIABLE = "AESEARCH_WRITE_TOKEN"

GALLERY_INDEXES = ("auto", "exact", "hnsw", "ivf")
GALLERY_EF_SEARCH = 32
"""The smallest ``efSearch`` whose recall@10 reached 0.95 on a million-image gallery's choice
queries (results/gallery_scale.json, ``chosen_ef_search``; a test holds the two equal)."""
MIN_TOKEN_LENGTH = 16
"""Characters a configured token must have: a guessable one protects nothing."""


@dataclass(frozen=True)
class Settings:
    """Every setting, read from the environment by :meth:`from_environment`."""

    home: Path
    data_dir: Path
    cache_dir: Path
    galleries_dir: Path
    offline: bool = False
    array_cache: bool = True
    headless: bool = False
    vectors_uri: str = ""
    milvus_token: str = ""
    gallery_index: str = "auto"
    gallery_ef_search: int = GALLERY_EF_SEARCH
    write_token: str = ""
    max_upload_bytes: int = 5 * 2**20
    max_k: int = 100
    default_gallery: str = "mnist-best"
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ

        def text(variable: str) -> str:
            return environ.get(variable, "").strip()

        def path(variable: str, relative_to: Path | None = None) -> Path | None:
            if not text(variable):
                return None
            value = Path(text(variable)).expanduser()
            if relative_to is not None and not value.is_absolute():
                value = relative_to / value
            return value.resolve()

        def number(variable: str, default: float, kind: type = float):
            if not text(variable):
                return default
            try:
                value = kind(text(variable))
            except ValueError:
                value = 0
            if value <= 0:
                raise InvalidInputError(
                    f"{variable}={text(variable)!r}: expected a positive {kind.__name__}"
                )
            return value

        gallery_index = text("AESEARCH_GALLERY_INDEX") or "auto"
        if gallery_index not in GALLERY_INDEXES:
            raise InvalidInputError(
                f"AESEARCH_GALLERY_INDEX={gallery_index!r}: choose one of "
                f"{', '.join(GALLERY_INDEXES)}"
            )
        home = path(HOME_VARIABLE) or _default_home()
        return cls(
            home=home,
            data_dir=path(DATA_DIR_VARIABLE, home) or home / "data",
            cache_dir=path(CACHE_DIR_VARIABLE, home) or home / "data" / "cache",
            galleries_dir=path(GALLERIES_DIR_VARIABLE, home) or home / "data" / "galleries",
            offline=text(OFFLINE_VARIABLE).lower() in {"1", "true", "yes"},
            array_cache=text(ARRAY_CACHE_VARIABLE).lower() not in {"0", "false", "no"},
            headless=text(HEADLESS_VARIABLE) == "1",
            vectors_uri=text("AESEARCH_VECTORS_URI"),
            milvus_token=text("AESEARCH_MILVUS_TOKEN"),
            gallery_index=gallery_index,
            gallery_ef_search=number("AESEARCH_GALLERY_EF_SEARCH", GALLERY_EF_SEARCH, int),
            # not stripped: a token is what it is, and check_token says what is wrong with it
            write_token=environ.get(WRITE_TOKEN_VARIABLE, ""),
            max_upload_bytes=number("AESEARCH_MAX_UPLOAD_BYTES", 5 * 2**20, int),
            default_gallery=text("AESEARCH_DEFAULT_GALLERY") or "mnist-best",
            header_timeout_s=number("AESEARCH_HEADER_TIMEOUT_S", 10.0),
            body_timeout_s=number("AESEARCH_BODY_TIMEOUT_S", 30.0),
        )


def check_token(token: str, source: str) -> str:
    """``token`` if it is long enough and has no blanks, else an error naming ``source``."""
    if len(token) < MIN_TOKEN_LENGTH or token != token.strip() or any(c.isspace() for c in token):
        raise InvalidInputError(
            f"{source} must be at least {MIN_TOKEN_LENGTH} characters with no spaces; "
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


def _default_home() -> Path:
    source_checkout = Path(__file__).resolve().parent.parent
    if (source_checkout / "pyproject.toml").is_file():
        return source_checkout
    return Path.cwd()


def settings() -> Settings:
    """The settings as the environment says now (read anew each call: tests change it)."""
    return Settings.from_environment()


def project_root() -> Path:
    """The project's root folder (holds ``notebooks/``, ``figures/``, ``data/``)."""
    return settings().home


def data_dir() -> Path:
    """The folder searched for dataset files."""
    return settings().data_dir


def cache_dir() -> Path:
    """The folder for decoded dataset arrays."""
    return settings().cache_dir


def models_dir() -> Path:
    """The folder of trained models (the training cache)."""
    return project_root() / "data" / "models"


def galleries_dir() -> Path:
    """The folder of the search service's galleries."""
    return settings().galleries_dir


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks."""
    return project_root() / "notebooks"


def is_headless() -> bool:
    """True inside notebooks executed by the runner (no one watches a progress bar)."""
    return settings().headless


def array_cache_enabled() -> bool:
    """False when ``AESEARCH_ARRAY_CACHE`` is set to a false value."""
    return settings().array_cache


def downloads_allowed() -> bool:
    """False when ``AESEARCH_OFFLINE`` is set to a true value."""
    return not settings().offline
