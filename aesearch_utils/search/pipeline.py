"""Search pipelines: an encoder's features, whitened, searched, re-ranked; saved and reopened.

A :class:`SearchPipeline` turns images into vectors with any encoder (an
autoencoder's latent or pooled conv features, raw pixels, PCA), then

1. PCA-whitens them (:class:`~aesearch_utils.search.whitening.Whitening`,
   fitted on the gallery),
2. searches by cosine similarity in an :class:`~aesearch_utils.search.index.ImageIndex`
   (exact by default, or an approximate HNSW graph for large galleries),
3. optionally re-ranks with database-side augmentation and alpha query
   expansion (:mod:`aesearch_utils.search.reranking`, which a gallery uses too).

The same steps apply to the baselines, so notebook 12's ablation can tell
what the autoencoder adds and what the post-processing adds.

A fitted pipeline saves to one folder (:meth:`SearchPipeline.save`: the
encoder and its weights, the whitening, the re-ranked gallery vectors with
their ids and labels) and reopens from it without encoding anything
(:meth:`SearchPipeline.open`). Searching a fitted pipeline only reads its
state, so several threads may query it at once.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils.errors import CorruptDataError, InvalidInputError
from aesearch_utils.io import current_snapshot, write_folder_atomically
from aesearch_utils.search.encoders import Encoder, check_images, encode_images, load_encoder
from aesearch_utils.search.index import ImageIndex, SearchResult
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.reranking import database_side_augmentation, expanded_queries
from aesearch_utils.search.whitening import PrincipalAxes, Whitening

PIPELINE_FORMAT_VERSION = 1
SETTINGS = ("whiten_dims", "whiten_power", "expansion_k", "expansion_alpha")
"""The options of :class:`SearchPipeline` that a recipe chooses (besides its encoder); the
index kind is the deployment's."""


def post_processing(
    whiten_dims: int | None, whiten_power: float, expansion_k: int, index_kind: str = "exact"
) -> list[str]:
    """The steps after the encoder, as :attr:`SearchPipeline.steps` writes them (the index
    only when it is not the exact one)."""
    steps = []
    if whiten_dims:
        steps.append(f"whiten{int(whiten_dims)}^{float(whiten_power):g}")
    if expansion_k:
        steps.append(f"dba+qe{int(expansion_k)}")
    if index_kind != "exact":
        steps.append(index_kind)
    return steps


@contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Any failure to read a saved part as a :class:`CorruptDataError` naming its file."""
    try:
        yield
    except CorruptDataError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptDataError(
            f"{path}: the saved {what} cannot be read ({type(error).__name__}: {error}); "
            "save or build it again"
        ) from None


class _Whitened:
    """The encoder the index sees: the base encoder followed by the whitening."""

    def __init__(self, base: Encoder, whitening: Whitening | None) -> None:
        self.base = base
        self.whitening = whitening
        self.name = base.name + ("+whitened" if whitening else "")

    @property
    def output_dim(self) -> int:
        return self.whitening.output_dim if self.whitening else self.base.output_dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        return self.transform(self.base.encode(images))

    def transform(self, features: np.ndarray) -> np.ndarray:
        return self.whitening.transform(features) if self.whitening else features


class SearchPipeline:
    """Features -> whitening -> cosine search -> re-ranking; fitted on a gallery.

    Args:
        encoder: gives the features.
        whiten_dims: whitened dimensions kept (``None``: no whitening).
        whiten_power: 1 is full whitening, 0 plain PCA (see ``Whitening``).
        expansion_k: neighbours used by database-side augmentation and query
            expansion; 0 turns re-ranking off.
        expansion_alpha: the weight exponent of both.
        index_kind: the vector index searched and used for database-side augmentation:
            ``exact``, or ``hnsw`` (approximate; for galleries of a million images).
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        whiten_dims: int | None = None,
        whiten_power: float = 0.5,
        expansion_k: int = 0,
        expansion_alpha: float = 3.0,
        index_kind: str = "exact",
    ) -> None:
        if expansion_k < 0:
            raise InvalidInputError(f"expansion_k must be 0 (off) or more, got {expansion_k}")
        self.encoder = encoder
        self.whiten_dims = whiten_dims
        self.whiten_power = whiten_power
        self.expansion_k = expansion_k
        self.expansion_alpha = expansion_alpha
        self.index_kind = index_kind
        self.whitening: Whitening | None = None
        """Fitted on the gallery by :meth:`fit`."""
        self.image_shape: tuple[int, ...] | None = None
        """The gallery images' ``(height, width, channels)``; queries must match it."""
        self.index: ImageIndex | None = None
        self.metadata: dict[str, Any] = {}
        """Free JSON-friendly facts saved with the pipeline (its registered name, class names)."""

    @property
    def steps(self) -> str:
        """The steps in one line, e.g. ``conv_fc_transpose:pool2 | whiten128^0.5 | dba+qe5``."""
        return " | ".join(
            [
                self.encoder.name,
                *post_processing(
                    self.whiten_dims, self.whiten_power, self.expansion_k, self.index_kind
                ),
            ]
        )

    def settings(self) -> dict[str, Any]:
        """The constructor's options, as saved."""
        return {name: getattr(self, name) for name in (*SETTINGS, "index_kind")}

    def fit(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        *,
        progress: bool = True,
    ) -> SearchPipeline:
        """Encode the gallery ``images`` and fit every step on them.

        ``ids``: stable int64 ids, one per image (default: the row numbers). ``progress``:
        a progress bar while encoding, where someone watches (``batching.watched``).
        """
        check_images(images)
        features = encode_images(self.encoder, images, progress=progress)
        return self.fit_features(features, labels, images.shape[1:], ids=ids)

    def fit_features(
        self,
        features: np.ndarray,
        labels: np.ndarray | None,
        image_shape: tuple[int, ...],
        axes: PrincipalAxes | None = None,
        ids: np.ndarray | None = None,
    ) -> SearchPipeline:
        """Fit on already-encoded gallery features (the encoder's output).

        ``axes``: the features' :func:`~aesearch_utils.search.whitening.principal_axes`,
        when already computed.
        """
        _, vectors = self.fit_vectors(features, image_shape, axes)
        encoder = _Whitened(self.encoder, self.whitening)
        self.index = ImageIndex(
            vectors, labels, encoder, image_shape, "cosine", self.index_kind, ids=ids
        )
        return self

    def fit_vectors(
        self,
        features: np.ndarray,
        image_shape: tuple[int, ...],
        axes: PrincipalAxes | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit the whitening on gallery features and give their vectors: ``(base, searched)``,
        the :meth:`unit_vectors` and those after database-side augmentation (the same when
        re-ranking is off). A gallery store indexes them itself."""
        self.whitening = (
            Whitening(self.whiten_dims, self.whiten_power).fit(features, axes)
            if self.whiten_dims
            else None
        )
        self.image_shape = tuple(image_shape)
        base = self.unit_vectors(features)
        return base, self.augmented(base)

    def augmented(self, base: np.ndarray) -> np.ndarray:
        """A gallery's unit vectors after database-side augmentation (the same vectors when
        re-ranking is off)."""
        if not self.expansion_k:
            return base
        return database_side_augmentation(
            base, self.expansion_k, self.expansion_alpha, self.index_kind
        )

    def unit_vectors(self, features: np.ndarray) -> np.ndarray:
        """Encoder features whitened (when fitted so) and scaled to unit length: the vectors
        that database-side augmentation and the search compare."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float32))
        return unit_vectors(self.whitening.transform(features) if self.whitening else features)

    def query(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest gallery images to each query image (one image or a batch)."""
        index = self._fitted()
        if isinstance(images, np.ndarray) and images.ndim == len(index.image_shape):
            images = images[np.newaxis]
        check_images(images, index.image_shape)
        return self.query_features(encode_images(self.encoder, images), k)

    def query_features(self, features: np.ndarray, k: int = 10) -> SearchResult:
        """Search with already-encoded query features (the encoder's output)."""
        index = self._fitted()
        return index.query_vectors(self.expanded_queries(self.unit_vectors(features)), k)

    def expanded_queries(self, vectors: np.ndarray) -> np.ndarray:
        """Unit query vectors (:meth:`unit_vectors`) after alpha query expansion; the same
        vectors when re-ranking is off."""
        if not self.expansion_k:
            return vectors
        index = self._fitted()
        return expanded_queries(index.vector_index, vectors, self.expansion_k, self.expansion_alpha)

    def save(self, path: str | os.PathLike[str], include_index: bool = True) -> Path:
        """Save the fitted pipeline into the folder ``path``, atomically (see
        :func:`~aesearch_utils.io.write_folder_atomically`): a reader, or a crash,
        sees the previous save or this one, never a mix.

        ``include_index=False`` keeps the encoder, whitening and settings only,
        for a gallery store that records its vectors itself.
        """
        index = self._fitted() if include_index else None
        if self.image_shape is None:
            raise InvalidInputError("fit the pipeline on a gallery before saving it")

        def write(folder: Path) -> None:
            description = {
                "format": PIPELINE_FORMAT_VERSION,
                "settings": self.settings(),
                "metadata": self.metadata,
                "image_shape": list(self.image_shape),
                "encoder": self.encoder.save_state(folder, "encoder"),
                "whitening": (
                    self.whitening.save_state(folder / "whitening.npz") if self.whitening else None
                ),
                "index": include_index,
            }
            if index is not None:
                index.save(folder / "index.npz")
            (folder / "pipeline.json").write_text(
                json.dumps(description, indent=2, sort_keys=True), encoding="utf-8"
            )

        return write_folder_atomically(path, write)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> SearchPipeline:
        """Reopen a pipeline saved by :meth:`save`, ready to search (when saved with its index);
        nothing is encoded."""
        folder = current_snapshot(path)
        try:
            description = json.loads((folder / "pipeline.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CorruptDataError(f"{folder}: unreadable pipeline.json ({error})") from None
        if description.get("format") != PIPELINE_FORMAT_VERSION:
            raise CorruptDataError(
                f"{folder}: pipeline format {description.get('format')}, this version reads "
                f"{PIPELINE_FORMAT_VERSION}: build and save the pipeline again"
            )
        encoder_files = ", ".join(path.name for path in sorted(folder.glob("encoder*"))) or "-"
        with _reading(folder / encoder_files, "encoder"):
            pipeline = cls(load_encoder(description["encoder"], folder, "encoder"),
                           **description["settings"])  # fmt: skip
        whitening = description["whitening"]
        if whitening:
            with _reading(folder / "whitening.npz", "whitening"):
                pipeline.whitening = Whitening.load_state(folder / "whitening.npz", **whitening)
        if description["index"]:
            whitened = _Whitened(pipeline.encoder, pipeline.whitening)
            with _reading(folder / "index.npz", "index"):
                pipeline.index = ImageIndex.load(folder / "index.npz", whitened)
        pipeline.metadata = description["metadata"]
        pipeline.image_shape = tuple(description["image_shape"])
        return pipeline

    def _fitted(self) -> ImageIndex:
        if self.index is None:
            raise InvalidInputError("fit the pipeline on a gallery before searching or saving")
        return self.index
