"""Exceptions the package raises on bad input, each with a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterable


class AesearchError(Exception):
    """Base class of every error this package raises on purpose."""


class UnknownNameError(AesearchError, ValueError):
    """A name (dataset, noise kind, profile, ...) that the package does not know."""

    def __init__(self, kind: str, name: object, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(self.known)}")


class DataNotFoundError(AesearchError, FileNotFoundError):
    """A dataset is neither on disk nor downloadable."""


class CorruptDataError(AesearchError, ValueError):
    """A data file exists but cannot be read as what it claims to be."""


class InvalidInputError(AesearchError, ValueError):
    """An array or argument of the wrong shape, dtype or range."""


class EmptyGalleryError(InvalidInputError):
    """A search of a gallery that holds no image yet."""


class BackendUnavailableError(AesearchError, ConnectionError):
    """A server the package relies on (a Milvus server) did not answer: retry once it is back."""
