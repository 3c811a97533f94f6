"""``ImageIndex``: encode a gallery once, then find the nearest images to any query.

Backends, chosen per index:

``exact``
    Brute force over all gallery vectors (FAISS's flat index; SciPy for manhattan).
``kdtree``
    scikit-learn's KD-tree, the seed reports' approach; exact as well.
``hnsw``
    FAISS's HNSW graph: approximate, for large galleries (euclidean and cosine).

An index remembers which encoder (name and latent size), metric and backend
built it; :meth:`ImageIndex.save` writes it atomically to one ``.npz`` file,
and :meth:`ImageIndex.load` refuses an encoder that does not match.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils import config
from aesearch_utils.encoders import Encoder
from aesearch_utils.errors import CorruptDataError, InvalidInputError, UnknownNameError
from aesearch_utils.io import write_atomically
from aesearch_utils.search import METRICS, exact_index, nearest_neighbours, search_exact_index

BACKENDS = ("exact", "kdtree", "hnsw")
INDEX_FORMAT_VERSION = 1
ENCODE_CHUNK = 4096


@dataclass(frozen=True)
class SearchResult:
    """Per query, the ``k`` nearest gallery items, nearest first."""

    ids: np.ndarray
    """Gallery row numbers, shape ``(queries, k)``."""
    distances: np.ndarray
    labels: np.ndarray | None
    """The results' gallery labels, when the gallery is labelled."""


class ImageIndex:
    """A searchable gallery of encoded images."""

    def __init__(
        self,
        vectors: np.ndarray,
        labels: np.ndarray | None,
        encoder: Encoder,
        image_shape: tuple[int, int, int],
        metric: str = "euclidean",
        backend: str = "exact",
        hnsw_neighbours: int = 32,
        hnsw_ef_construction: int = 80,
        hnsw_ef_search: int = 256,
        _hnsw_bytes: np.ndarray | None = None,
    ) -> None:
        if metric not in METRICS:
            raise UnknownNameError("metric", metric, METRICS)
        if backend not in BACKENDS:
            raise UnknownNameError("backend", backend, BACKENDS)
        if backend == "hnsw" and metric == "manhattan":
            raise InvalidInputError(
                "the hnsw backend supports euclidean and cosine; use exact or kdtree for manhattan"
            )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise InvalidInputError(
                f"the gallery is empty or not a 2-D array of vectors (shape {vectors.shape}): "
                "an index needs at least one image"
            )
        if not np.all(np.isfinite(vectors)):
            bad = int(np.count_nonzero(~np.all(np.isfinite(vectors), axis=1)))
            raise InvalidInputError(
                f"{bad} gallery embeddings contain NaN or inf: check the encoder ({encoder.name}) "
                "and the images"
            )
        if vectors.shape[1] != encoder.latent_dim:
            raise InvalidInputError(
                f"gallery vectors have {vectors.shape[1]} dimensions but encoder "
                f"{encoder.name} produces {encoder.latent_dim}"
            )
        if labels is not None and len(labels) != len(vectors):
            raise InvalidInputError(f"{len(labels)} labels for {len(vectors)} gallery vectors")
        self.vectors = vectors
        self.labels = None if labels is None else np.asarray(labels)
        self.encoder = encoder
        self.image_shape = tuple(image_shape)
        self.metric = metric
        self.backend = backend
        self.hnsw_neighbours = hnsw_neighbours
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef_search = hnsw_ef_search
        self._structure = self._build_structure(_hnsw_bytes)

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        metric: str = "euclidean",
        backend: str = "exact",
        **backend_options: Any,
    ) -> ImageIndex:
        """Encode ``images`` (the gallery: uint8, or float in [0, 1]) and index them."""
        _check_images(images, None)
        vectors = encode_in_chunks(encoder, images)
        return cls(vectors, labels, encoder, images.shape[1:], metric, backend, **backend_options)

    def __len__(self) -> int:
        return len(self.vectors)

    def nbytes(self) -> int:
        """Memory held by the gallery vectors, labels and (for hnsw) the graph."""
        size = self.vectors.nbytes + (0 if self.labels is None else self.labels.nbytes)
        if self.backend == "hnsw":
            import faiss

            size += faiss.serialize_index(self._structure).nbytes - self.vectors.nbytes
        return size

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery images to each query image (one image or a batch)."""
        if images.ndim == 3:
            images = images[np.newaxis]
        _check_images(images, self.image_shape)
        return self.query_vectors(encode_in_chunks(self.encoder, images, progress=False), k)

    def query_vectors(self, vectors: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery vectors to already-encoded query vectors."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[np.newaxis]
        if vectors.ndim != 2 or vectors.shape[1] != self.vectors.shape[1]:
            raise InvalidInputError(
                f"query vectors must have {self.vectors.shape[1]} dimensions (the encoder's "
                f"latent size), got shape {vectors.shape}"
            )
        if not isinstance(k, int | np.integer) or not 1 <= k <= len(self):
            raise InvalidInputError(
                f"k must be between 1 and the gallery size {len(self)}, got {k}"
            )
        if not np.all(np.isfinite(vectors)):
            raise InvalidInputError("query embeddings contain NaN or inf")
        ids, distances = self._search(vectors, int(k))
        labels = None if self.labels is None else self.labels[ids]
        return SearchResult(ids, distances, labels)

    def _build_structure(self, hnsw_bytes: np.ndarray | None) -> Any:
        if self.backend == "kdtree":
            from sklearn.neighbors import KDTree

            # cosine distance is a monotonic function of the euclidean distance
            # between unit vectors: 1 - cos = |a - b|^2 / 2
            metric = "manhattan" if self.metric == "manhattan" else "euclidean"
            return KDTree(self._prepared(self.vectors), metric=metric)
        if self.backend == "hnsw":
            import faiss

            if hnsw_bytes is not None:
                structure = faiss.deserialize_index(hnsw_bytes)
            else:
                faiss_metric = (
                    faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
                )
                structure = faiss.IndexHNSWFlat(
                    self.vectors.shape[1], self.hnsw_neighbours, faiss_metric
                )
                structure.hnsw.efConstruction = self.hnsw_ef_construction
                structure.add(self._prepared(self.vectors))
            structure.hnsw.efSearch = self.hnsw_ef_search
            return structure
        return None if self.metric == "manhattan" else exact_index(self.vectors, self.metric)

    def _prepared(self, vectors: np.ndarray) -> np.ndarray:
        if self.metric != "cosine":
            return vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, np.finfo(np.float32).tiny))

    def _search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.backend == "exact":
            if self._structure is None:  # manhattan
                return nearest_neighbours(vectors, self.vectors, k, self.metric)
            return search_exact_index(self._structure, vectors, k, self.metric)
        queries = self._prepared(vectors)
        if self.backend == "kdtree":
            distances, ids = self._structure.query(queries, k=k)
            if self.metric == "cosine":
                distances = distances**2 / 2
            return ids.astype(np.int64), distances.astype(np.float32)
        self._structure.hnsw.efSearch = max(self.hnsw_ef_search, k)
        distances, ids = self._structure.search(queries, k)
        distances = 1 - distances if self.metric == "cosine" else np.sqrt(distances)
        return ids.astype(np.int64), distances.astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index (vectors, labels, settings, HNSW graph) atomically to ``path``."""
        meta = {
            "format": INDEX_FORMAT_VERSION,
            "encoder": self.encoder.name,
            "latent_dim": self.encoder.latent_dim,
            "image_shape": list(self.image_shape),
            "metric": self.metric,
            "backend": self.backend,
            "hnsw_neighbours": self.hnsw_neighbours,
            "hnsw_ef_construction": self.hnsw_ef_construction,
            "hnsw_ef_search": self.hnsw_ef_search,
            "labelled": self.labels is not None,
        }
        arrays = {"vectors": self.vectors, "meta": np.array(json.dumps(meta))}
        if self.labels is not None:
            arrays["labels"] = self.labels
        if self.backend == "hnsw":
            import faiss

            arrays["hnsw"] = faiss.serialize_index(self._structure)

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
                vectors = stored["vectors"]
                labels = stored["labels"] if meta["labelled"] else None
                hnsw = stored["hnsw"] if "hnsw" in stored.files else None
        except FileNotFoundError:
            raise
        except Exception as error:  # a truncated zip, missing arrays, bad JSON
            raise CorruptDataError(f"{path}: not a readable index file ({error})") from None
        if meta.get("format") != INDEX_FORMAT_VERSION:
            raise CorruptDataError(
                f"{path}: index format {meta.get('format')}, this version reads "
                f"{INDEX_FORMAT_VERSION}: build the index again"
            )
        if (meta["encoder"], meta["latent_dim"]) != (encoder.name, encoder.latent_dim):
            raise InvalidInputError(
                f"{path} was built with encoder {meta['encoder']} ({meta['latent_dim']}-D); "
                f"got {encoder.name} ({encoder.latent_dim}-D): load it with the same encoder"
            )
        return cls(
            vectors,
            labels,
            encoder,
            tuple(meta["image_shape"]),
            meta["metric"],
            meta["backend"],
            meta["hnsw_neighbours"],
            meta["hnsw_ef_construction"],
            meta["hnsw_ef_search"],
            _hnsw_bytes=hnsw,
        )


def encode_in_chunks(encoder: Encoder, images: np.ndarray, progress: bool = True) -> np.ndarray:
    """``encoder.encode`` over ``images`` chunk by chunk, with a progress bar in JupyterLab."""
    chunks = range(0, len(images), ENCODE_CHUNK)
    if progress and not config.is_headless() and len(chunks) > 1:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc=f"encoding with {encoder.name}", unit="chunk")
    parts = [encoder.encode(images[start : start + ENCODE_CHUNK]) for start in chunks]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _check_images(images: np.ndarray, expected_shape: tuple[int, ...] | None) -> None:
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise InvalidInputError(
            "images must be an array of shape (N, height, width, channels), got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    if len(images) == 0:
        raise InvalidInputError("no images given: the gallery or query batch is empty")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise InvalidInputError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
        raise InvalidInputError(
            f"query images are {images.shape[1:]}, the gallery's are {tuple(expected_shape)}: "
            "resize them (load_image_folder(..., image_size=...)) or use a matching index"
        )
