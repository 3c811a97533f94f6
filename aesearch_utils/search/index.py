"""``ImageIndex``: encode a gallery once, then find the nearest images to any query.

The index holds the gallery's vectors, their stable ids (int64: what a result
names, whatever row an item sits in) and labels, and a search backend
(:mod:`aesearch_utils.search.backends`: exact, KD-tree or HNSW). It remembers
which encoder (name and output size), metric and backend built it;
:meth:`ImageIndex.save` writes it atomically to one ``.npz`` file, and
:meth:`ImageIndex.load` refuses an encoder that does not match.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils.errors import CorruptDataError, InvalidInputError, UnknownNameError
from aesearch_utils.io import write_atomically
from aesearch_utils.search.backends import BACKENDS, SearchBackend, make_backend
from aesearch_utils.search.encoders import Encoder, check_images, encode_images
from aesearch_utils.search.neighbours import check_k, check_vectors

INDEX_FORMAT_VERSION = 2


@dataclass(frozen=True)
class SearchResult:
    """Per query, the ``k`` nearest gallery items, nearest first; each array ``(queries, k)``."""

    ids: np.ndarray
    """The results' stable gallery ids (int64)."""
    rows: np.ndarray | None
    """The results' row numbers in the index's arrays (for indexing the gallery images);
    ``None`` from a gallery store, whose items are known by id only."""
    distances: np.ndarray
    labels: np.ndarray | None
    """The results' gallery labels, when the gallery is labelled (a store: -1 for none)."""


def gallery_ids(ids: np.ndarray | None, count: int) -> np.ndarray:
    """``ids`` checked (int64, one per item, unique), or ``0 .. count - 1`` when not given."""
    if ids is None:
        return np.arange(count, dtype=np.int64)
    ids = np.asarray(ids)
    if ids.shape != (count,) or not np.issubdtype(ids.dtype, np.integer):
        raise InvalidInputError(
            f"gallery ids must be {count} integers, one per item; got {ids.dtype} {ids.shape}"
        )
    if len(np.unique(ids)) != count:
        raise InvalidInputError("gallery ids must be unique; some id appears twice")
    return ids.astype(np.int64)


class ImageIndex:
    """A searchable gallery of encoded images.

    Args:
        vectors: the gallery's vectors ``(N, encoder.output_dim)``.
        labels: one per vector, or ``None``.
        encoder: what made the vectors, and encodes the query images.
        image_shape: the images' ``(height, width, channels)``.
        metric: ``euclidean``, ``cosine`` or ``manhattan``.
        backend: a backend name (``exact``, ``kdtree``, ``hnsw``) built over
            ``vectors`` with ``backend_options``, or a backend already built.
        ids: stable int64 ids, one per vector (default: the row numbers).
    """

    def __init__(
        self,
        vectors: np.ndarray,
        labels: np.ndarray | None,
        encoder: Encoder,
        image_shape: tuple[int, ...],
        metric: str = "euclidean",
        backend: str | SearchBackend = "exact",
        ids: np.ndarray | None = None,
        **backend_options: Any,
    ) -> None:
        if isinstance(backend, str) and backend not in BACKENDS:
            raise UnknownNameError("backend", backend, tuple(BACKENDS))
        vectors = check_vectors(vectors, "gallery vectors")
        if vectors.shape[1] != encoder.output_dim:
            raise InvalidInputError(
                f"gallery vectors have {vectors.shape[1]} dimensions but encoder "
                f"{encoder.name} produces {encoder.output_dim}"
            )
        if labels is not None and len(labels) != len(vectors):
            raise InvalidInputError(f"{len(labels)} labels for {len(vectors)} gallery vectors")
        self.vectors = vectors
        self.labels = None if labels is None else np.asarray(labels)
        self.ids = gallery_ids(ids, len(vectors))
        self.encoder = encoder
        self.image_shape = tuple(image_shape)
        self.metric = metric
        if isinstance(backend, str):
            backend = make_backend(backend, vectors, metric, **backend_options)
        elif backend.metric != metric:
            raise InvalidInputError(
                f"the {backend.name} backend searches by {backend.metric}, the index by {metric}"
            )
        self.backend = backend

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        metric: str = "euclidean",
        backend: str = "exact",
        ids: np.ndarray | None = None,
        **backend_options: Any,
    ) -> ImageIndex:
        """Encode ``images`` (the gallery: uint8, or float in [0, 1]) and index them."""
        check_images(images)
        vectors = encode_images(encoder, images, progress=True)
        return cls(
            vectors, labels, encoder, images.shape[1:], metric, backend, ids, **backend_options
        )

    def __len__(self) -> int:
        return len(self.vectors)

    def nbytes(self) -> int:
        """Memory held by the gallery vectors, ids, labels and the backend's structure."""
        labels = 0 if self.labels is None else self.labels.nbytes
        return self.vectors.nbytes + self.ids.nbytes + labels + self.backend.nbytes()

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery images to each query image (one image or a batch)."""
        if isinstance(images, np.ndarray) and images.ndim == len(self.image_shape):
            images = images[np.newaxis]
        check_images(images, self.image_shape)
        return self.query_vectors(encode_images(self.encoder, images), k)

    def query_vectors(
        self, vectors: np.ndarray, k: int = 10, ef_search: int | None = None
    ) -> SearchResult:
        """The ``k`` nearest gallery vectors to already-encoded query vectors.

        ``ef_search`` (HNSW only) overrides the backend's candidates for these
        queries alone; other threads' queries are not affected.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[np.newaxis]
        vectors = check_vectors(vectors, "query vectors", self.vectors.shape[1])
        rows, distances = self.backend.search(vectors, check_k(k, len(self)), ef_search)
        labels = None if self.labels is None else self.labels[rows]
        return SearchResult(self.ids[rows], rows, distances, labels)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index (vectors, ids, labels, settings, HNSW graph) atomically to ``path``."""
        meta = {
            "format": INDEX_FORMAT_VERSION,
            "encoder": self.encoder.name,
            "output_dim": self.encoder.output_dim,
            "image_shape": list(self.image_shape),
            "metric": self.metric,
            "backend": self.backend.name,
            "backend_options": self.backend.options(),
            "labelled": self.labels is not None,
        }
        arrays = {"vectors": self.vectors, "ids": self.ids, "meta": np.array(json.dumps(meta))}
        if self.labels is not None:
            arrays["labels"] = self.labels
        payload = self.backend.payload()
        if payload is not None:
            arrays["backend_payload"] = payload

        def write(temporary: Path) -> None:
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)

        return write_atomically(Path(path), write)

    @classmethod
    def load(cls, path: str | os.PathLike[str], encoder: Encoder) -> ImageIndex:
        """Read an index saved by :meth:`save`; ``encoder`` must be the one that built it."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as stored:
                meta = json.loads(str(stored["meta"]))
                vectors, ids = stored["vectors"], stored["ids"]
                labels = stored["labels"] if meta["labelled"] else None
                payload = stored.get("backend_payload")
        except FileNotFoundError:
            raise
        except Exception as error:  # a truncated zip, missing arrays, bad JSON
            raise CorruptDataError(f"{path}: not a readable index file ({error})") from None
        if meta.get("format") != INDEX_FORMAT_VERSION:
            raise CorruptDataError(
                f"{path}: index format {meta.get('format')}, this version reads "
                f"{INDEX_FORMAT_VERSION}: build the index again"
            )
        if (meta["encoder"], meta["output_dim"]) != (encoder.name, encoder.output_dim):
            raise InvalidInputError(
                f"{path} was built with encoder {meta['encoder']} ({meta['output_dim']}-D); "
                f"got {encoder.name} ({encoder.output_dim}-D): load it with the same encoder"
            )
        try:
            backend = make_backend(
                meta["backend"], vectors, meta["metric"], payload, **meta["backend_options"]
            )
        except CorruptDataError as error:
            raise CorruptDataError(f"{path}: {error}") from None
        return cls(
            vectors, labels, encoder, tuple(meta["image_shape"]), meta["metric"], backend, ids
        )
