"""``ImageIndex``: encode a gallery once, then find the nearest images to any query.

The index holds the gallery's vectors, their stable ids (int64: what a result
names, whatever row an item sits in) and labels, and a vector index over them
keyed by row number (:mod:`aesearch_utils.search.vector_index`: exact,
KD-tree or HNSW). It remembers which encoder (name and output size), metric
and index kind built it;
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

from aesearch_utils.errors import CorruptDataError, InvalidInputError
from aesearch_utils.io import write_atomically
from aesearch_utils.search.encoders import Encoder, check_images, encode_images
from aesearch_utils.search.neighbours import check_k, check_vectors
from aesearch_utils.search.vector_index import VectorIndex, make_index, restore_index

INDEX_FORMAT_VERSION = 3


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
        index_kind: the vector index (``exact``, ``kdtree``, ``hnsw``) built over
            ``vectors`` with ``index_options``, or one already built (keyed by row number).
        ids: stable int64 ids, one per vector (default: the row numbers).
    """

    def __init__(
        self,
        vectors: np.ndarray,
        labels: np.ndarray | None,
        encoder: Encoder,
        image_shape: tuple[int, ...],
        metric: str = "euclidean",
        index_kind: str | VectorIndex = "exact",
        ids: np.ndarray | None = None,
        **index_options: Any,
    ) -> None:
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
        if isinstance(index_kind, str):
            vector_index = make_index(index_kind, vectors.shape[1], metric, **index_options)
            vector_index.add(np.arange(len(vectors)), vectors)
        else:
            vector_index = index_kind
            if vector_index.metric != metric or vector_index.count() != len(vectors):
                raise InvalidInputError(
                    f"the {vector_index.kind} index holds {vector_index.count()} vectors by "
                    f"{vector_index.metric}; the gallery has {len(vectors)} by {metric}"
                )
        self.vector_index = vector_index

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        metric: str = "euclidean",
        index_kind: str = "exact",
        ids: np.ndarray | None = None,
        **index_options: Any,
    ) -> ImageIndex:
        """Encode ``images`` (the gallery: uint8, or float in [0, 1]) and index them."""
        check_images(images)
        vectors = encode_images(encoder, images, progress=True)
        return cls(
            vectors, labels, encoder, images.shape[1:], metric, index_kind, ids, **index_options
        )

    def __len__(self) -> int:
        return len(self.vectors)

    def nbytes(self) -> int:
        """Memory held by the gallery vectors, ids, labels and the vector index (which keeps
        its own copy of the vectors)."""
        labels = 0 if self.labels is None else self.labels.nbytes
        return self.vectors.nbytes + self.ids.nbytes + labels + self.vector_index.nbytes()

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery images to each query image (one image or a batch)."""
        if isinstance(images, np.ndarray) and images.ndim == len(self.image_shape):
            images = images[np.newaxis]
        check_images(images, self.image_shape)
        return self.query_vectors(encode_images(self.encoder, images), k)

    def query_vectors(
        self, vectors: np.ndarray, k: int = 10, breadth: int | None = None
    ) -> SearchResult:
        """The ``k`` nearest gallery vectors to already-encoded query vectors.

        ``breadth`` (HNSW's ``efSearch``) overrides the index's candidates for these
        queries alone; other threads' queries are not affected.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[np.newaxis]
        vectors = check_vectors(vectors, "query vectors", self.vectors.shape[1])
        rows, distances = self.vector_index.search(vectors, check_k(k, len(self)), breadth)
        labels = None if self.labels is None else self.labels[rows]
        return SearchResult(self.ids[rows], rows, distances, labels)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index (vectors, ids, labels, settings, HNSW graph) atomically to ``path``."""
        vector_index = self.vector_index
        meta = {
            "format": INDEX_FORMAT_VERSION,
            "encoder": self.encoder.name,
            "output_dim": self.encoder.output_dim,
            "image_shape": list(self.image_shape),
            "metric": self.metric,
            "index_kind": vector_index.kind,
            "index_options": vector_index.options(),
            "labelled": self.labels is not None,
        }
        arrays = {"vectors": self.vectors, "ids": self.ids, "meta": np.array(json.dumps(meta))}
        if self.labels is not None:
            arrays["labels"] = self.labels
        if vector_index.saves_structure:
            arrays |= {f"index_{name}": array for name, array in vector_index.state().items()}

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
                state = {
                    name.removeprefix("index_"): stored[name]
                    for name in stored.files
                    if name.startswith("index_")
                }
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
        kind, options, metric = meta["index_kind"], meta["index_options"], meta["metric"]
        vector_index: str | VectorIndex = kind  # built over the vectors, unless its state was saved
        if state:
            try:
                vector_index = restore_index(kind, state, vectors.shape[1], metric, **options)
            except CorruptDataError as error:
                raise CorruptDataError(f"{path}: {error}") from None
            if vector_index.count() != len(vectors):
                raise CorruptDataError(
                    f"{path}: the saved {kind} index holds {vector_index.count()} vectors, the "
                    f"gallery {len(vectors)}: build the index again"
                )
            options = {}  # the restored index has them
        return cls(
            vectors, labels, encoder, tuple(meta["image_shape"]), metric, vector_index, ids,
            **options,
        )  # fmt: skip
