"""A gallery that grows while it serves: a fitted pipeline, a durable record, searched indexes.

On disk a gallery is one folder::

    gallery.json       id, image shape, class names, format, title, owner (a tenant), visibility
    pipeline/          the encoder, its weights and the whitening (SearchPipeline.save)
    record.sqlite      every item: id, label, image, vectors (SQLite, WAL)
    index/             the embedded indexes as last saved, with the record's high-water marks
    open.lock          held by the one process that has it open (store.locking)

A gallery built with a Milvus server's URI keeps its whole record in Milvus
instead (:class:`SharedGallery`, :mod:`aesearch_utils.store.milvus_record`):
its folder holds ``gallery.json`` and ``pipeline/`` only, and any number of
processes open it at once.

Searching encodes the query with the pipeline and searches the gallery's
vector index (:mod:`aesearch_utils.search.vector_index`: FAISS in memory,
exact or HNSW, or a Milvus collection; the setting ``AESEARCH_GALLERY_INDEX``
chooses, see :func:`gallery_index_kind`). Adding encodes the images first,
then, under the gallery's write lock, records them in one SQLite transaction
and only then puts them in the index, so an acknowledged item is on disk, and
a failure leaves nothing half-added. Searches run concurrently; an addition or a
deletion waits for the searches in flight and holds new ones for the few
milliseconds it takes.

**Re-ranking and additions.** A pipeline with database-side augmentation
(DBA) searches vectors that were each averaged with their ``k`` nearest
gallery neighbours when the gallery was built. An added image gets the same
treatment at once: its unit vector is averaged with those of its ``k``
nearest items (found among the unaugmented vectors, as DBA does), so it is
searchable immediately and described like the others. The items already
there keep their vectors: recomputing every neighbourhood on each addition
would cost a search of the whole gallery per item. :meth:`Gallery.rebuild`
redoes DBA over the whole gallery, in one transaction, when many items have
come or gone (and builds an HNSW graph anew, without the removed items it
still walks through). Query expansion, and DBA for a new item, are
:func:`~aesearch_utils.search.reranking.expanded_queries` over the gallery's
indexes: the pipeline's own re-ranking, not a copy of it.

**Reopening a large gallery.** Filling FAISS from the record reads every row
out of SQLite, and an HNSW graph of a million items then takes minutes to
build. :meth:`Gallery.checkpoint` (after a build, on :meth:`Gallery.close`,
and when the service stops) saves the embedded indexes and every item's label
(:mod:`aesearch_utils.store.checkpoint`) with the record's high-water marks:
its next id and the next place in its log of deletions. A reopen reads the
searched index and the labels and replays only what came later: the record's
items from that id on are added, the ids deleted since are removed. The
index of the vectors before augmentation is read the same way at the first
change, since only changes need it. A missing checkpoint, or one saved for
another index kind, is rebuilt from the record; an unreadable one, or one that
does not hold exactly the record's items after the replay, too, with a
warning: never served wrong. :meth:`Gallery.rebuild` deletes it first, since
it changes vectors in place. The record's integrity check runs in the
background (:class:`~aesearch_utils.store.record.IntegrityCheck`): a gallery
serves at once, and refuses every call once the check finds damage.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils import config
from aesearch_utils.data.dataset import dataset_spec
from aesearch_utils.data.image_folder import load_image_folder
from aesearch_utils.data.loading import load_dataset
from aesearch_utils.errors import (
    BackendUnavailableError,
    CorruptDataError,
    DataNotFoundError,
    EmptyGalleryError,
    InvalidInputError,
)
from aesearch_utils.io import write_json
from aesearch_utils.search.encoders import check_images, encode_images
from aesearch_utils.search.index import SearchResult
from aesearch_utils.search.neighbours import check_k, check_vectors
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import features_encoder, pipeline_recipe
from aesearch_utils.search.reranking import expanded_queries
from aesearch_utils.search.vector_index import VectorIndex, make_index
from aesearch_utils.search.vector_index.milvus import MAX_K, MilvusIndex, is_server
from aesearch_utils.store.checkpoint import FOLDER as CHECKPOINT_FOLDER
from aesearch_utils.store.checkpoint import (
    Checkpoint,
    read_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from aesearch_utils.store.locking import FolderLock
from aesearch_utils.store.milvus_record import MilvusRecord
from aesearch_utils.store.record import NO_LABEL, GalleryRecord, IntegrityCheck
from aesearch_utils.store.tenants import ADMIN, check_tenant_name

GALLERY_FORMAT_VERSION = 1
APPROXIMATE_FROM = 100_000
"""Items from which ``AESEARCH_GALLERY_INDEX=auto`` searches an HNSW graph instead of every
vector: in results/gallery_scale.json exact search answers one query within the 2 ms goal at
10,000 items, near it at 100,000 and far above it at 1,000,000, while HNSW answers within it at
every size; below 100,000 exact search costs little and loses nothing."""
MILVUS_INDEX_TYPES = {"exact": "FLAT", "hnsw": "HNSW", "ivf": "IVF_FLAT"}
VISIBILITIES = ("public", "private")
"""``public``: anyone may search it and see its images; ``private``: only its owner."""


def check_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise InvalidInputError(
            f"visibility {visibility!r}: choose one of {', '.join(VISIBILITIES)}"
        )
    return visibility


class GalleryClosedError(InvalidInputError):
    """A gallery used after :meth:`Gallery.close`."""


class ReadWriteLock:
    """Many readers at once, or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def gallery_index_kind(setting: str, items: int, milvus: bool) -> str:
    """The index a gallery of ``items`` searches under ``AESEARCH_GALLERY_INDEX=setting``:
    ``exact``, ``hnsw`` or (Milvus only) ``ivf``."""
    if setting == "auto":
        return "exact" if items < APPROXIMATE_FROM else "hnsw"
    if setting == "ivf" and not milvus:
        raise InvalidInputError(
            "AESEARCH_GALLERY_INDEX=ivf is a Milvus index: set AESEARCH_VECTORS_URI to a Milvus "
            "server, or choose auto, exact or hnsw for the embedded index"
        )
    return setting


def augmentation_index(kind: str) -> str:
    """The FAISS index that finds database-side augmentation's neighbours for a gallery that
    searches ``kind``: exact for exact, else an HNSW graph (FAISS keeps no IVF here)."""
    return "exact" if kind == "exact" else "hnsw"


def milvus_collection(path: Path, gallery_id: str, part: str) -> str:
    """The Milvus collection of one gallery's ``part`` (``vectors`` or ``base``).

    Measured: named after the folder alone, two galleries of one name (a copied folder, or one
    rebuilt where another was) shared a collection, so adding to one broke the other's searches.
    The name hashes the id made when the gallery was built with the folder's absolute path: a
    copy, a rebuild and a move each get their own collection (a moved gallery refills a new one
    from its record and leaves the old one in Milvus).
    """
    identity = f"{gallery_id}:{path.resolve()}"
    return f"aesearch_{hashlib.sha256(identity.encode()).hexdigest()[:20]}_{part}"


class Gallery:
    """A searchable, growing collection of images; build it with :meth:`build`, reopen it with
    :meth:`open`."""

    def __init__(
        self,
        path: Path,
        description: dict[str, Any],
        pipeline: SearchPipeline,
        record: GalleryRecord | MilvusRecord,
        lock: FolderLock | None,
        vectors_uri: str | None = None,
    ) -> None:
        self.path = path
        self.id: str = description.get("id", "")
        """Made when the gallery was built (empty for a gallery built before ids were)."""
        self.name = path.name
        """The folder's name: what the service's routes use, and unique in its folder."""
        self.owner: str = description.get("owner", ADMIN)
        self.visibility: str = description.get("visibility", "public")
        self.title: str = description.get("title", self.name)
        self.class_names: tuple[str, ...] = tuple(description["class_names"])
        self.image_shape: tuple[int, ...] = tuple(description["image_shape"])
        self.pipeline = pipeline
        self.record = record
        self._folder_lock = lock
        self.vectors_uri = vectors_uri
        self._labels: dict[int, int] = {}
        self.index_kind = "exact"
        """What the gallery searches: ``exact``, ``hnsw`` or ``ivf`` (Milvus)."""
        self._lock = ReadWriteLock()
        self._closed = False
        self._damage: CorruptDataError | None = None
        """What the background integrity check found wrong with the record, if anything."""
        self._stale: set[int] = set()
        """Ids the indexes may still hold that the record does not (a removal that failed)."""
        self._refill_due = False
        """Whether the Milvus collections may lag the record (a rebuild that failed midway)."""
        self._repair_lock = threading.Lock()
        self._base: VectorIndex | None = None
        """The vectors before augmentation: ``None`` until first needed (:meth:`_base_index`)."""
        self._base_lock = threading.Lock()
        self._checkpoint: Checkpoint | None = None
        """The checkpoint the searched index was read from, until the base index is read too."""
        self._saved = False
        """Whether the checkpoint on disk holds exactly what the indexes hold."""
        self._attach()

    def _attach(self) -> None:
        """Make the indexes ready to search (a subclass keeps its record elsewhere)."""
        self._open_indexes()
        # started once the gallery can serve: its reads of the whole record would slow the open
        self._integrity = IntegrityCheck(self.record.path, self._found_damage)

    def _open_indexes(self) -> None:
        """The labels, the index kind and the searched index: from the checkpoint, brought up
        to the record, where it has one that can be read (see the module); else from the
        record (and the base index with them)."""
        checkpoint = None if self.vectors_uri else self._read_checkpoint()
        if checkpoint is not None:
            later = self.record.read_all(first_id=checkpoint.meta["next_id"])
            deleted = self.record.deleted_since(checkpoint.meta["next_deletion"])
            labels = dict(zip(checkpoint.ids.tolist(), checkpoint.labels.tolist(), strict=True))
            labels.update(zip(later.ids.tolist(), later.labels.tolist(), strict=True))
            for item in deleted.tolist():
                labels.pop(item, None)
            self._labels = labels
            self.index_kind = gallery_index_kind(
                config.settings().gallery_index, len(labels), milvus=False
            )
            if checkpoint.meta["kind"] == self.index_kind:  # else another was chosen since
                index = self._replayed(checkpoint, "vectors", later.ids, later.vectors, deleted)
                if index is not None:
                    self._index, self._checkpoint = index, checkpoint
                    self._saved = not len(later.ids) and not len(deleted)
                    return
        items = self.record.read_all()
        self._labels = dict(zip(items.ids.tolist(), items.labels.tolist(), strict=True))
        self.index_kind = gallery_index_kind(
            config.settings().gallery_index, len(items.ids), bool(self.vectors_uri)
        )
        self._index = self._filled_index("vectors", items.ids, items.vectors)
        self._base = self._filled_index("base", items.ids, items.base)

    def _read_checkpoint(self) -> Checkpoint | None:
        """The gallery's checkpoint if it has one that belongs to it and to this record."""
        next_id, next_deletion = self.record.next_id(), self.record.next_deletion()
        try:
            checkpoint = read_checkpoint(self.path)
            if checkpoint is None:
                return None
            meta = checkpoint.meta
            if (
                (meta["gallery"], meta["dim"]) != (self.id, self.record.dim)
                or meta["next_id"] > next_id
                or meta["next_deletion"] > next_deletion
            ):
                raise CorruptDataError(
                    "it was saved for another gallery, or for a later state of this one's "
                    "record (a record restored from a backup)"
                )
        except (CorruptDataError, KeyError, TypeError) as error:
            self._warn_rebuilding(f"cannot be read ({type(error).__name__}: {error})")
            return None
        return checkpoint

    def _replayed(
        self,
        checkpoint: Checkpoint,
        part: str,
        later_ids: np.ndarray,
        later_vectors: np.ndarray,
        deleted: np.ndarray,
    ) -> VectorIndex | None:
        """The checkpoint's index of ``part`` with the record's later changes; ``None`` (with a
        warning) when it cannot be read or then does not hold the record's items."""
        try:
            index = checkpoint.index(part, **self._search_options())
        except (OSError, ValueError, KeyError, TypeError, CorruptDataError) as error:
            self._warn_rebuilding(f"cannot be read ({type(error).__name__}: {error})")
            return None
        index.remove(deleted)
        index.add(later_ids, later_vectors)
        if index.count() != len(self._labels):
            self._warn_rebuilding(
                f"holds {index.count()} items in {part} after replaying the record's later "
                f"changes, the record {len(self._labels)}"
            )
            index.close()
            return None
        return index

    def _warn_rebuilding(self, problem: str) -> None:
        warnings.warn(
            f"{self.path / CHECKPOINT_FOLDER} {problem}: building the gallery's index from its "
            "record instead",
            stacklevel=4,
        )

    def _base_index(self) -> VectorIndex:
        """The index of the vectors before augmentation. A gallery opened from its checkpoint
        reads it at the first change (an addition's neighbours, a deletion, a save), never
        for a search; every change asks for it before changing anything, so the record it is
        replayed from is still the record the searched index was brought up to."""
        with self._base_lock:
            if self._base is None:
                checkpoint = self._checkpoint
                assert checkpoint is not None
                later = self.record.read_all(first_id=checkpoint.meta["next_id"])
                deleted = self.record.deleted_since(checkpoint.meta["next_deletion"])
                self._base = self._replayed(checkpoint, "base", later.ids, later.base, deleted)
                if self._base is None:
                    items = self.record.read_all()
                    self._base = self._filled_index("base", items.ids, items.base)
                self._checkpoint = None
            return self._base

    def _search_options(self) -> dict[str, int]:
        """The setting of how widely an HNSW graph is searched (not saved with it)."""
        if self.index_kind != "hnsw":
            return {}
        return {"ef_search": config.settings().gallery_ef_search}

    def checkpoint(self) -> None:
        """Save the embedded indexes beside the record, with its high-water marks, so that the
        next :meth:`open` reads them instead of building them (see the module); nothing to do
        when the saved ones are current. A gallery whose vectors are in Milvus has nothing to
        save."""
        if self.vectors_uri:
            return
        with self._lock.writing():  # no change between the marks and the indexes' states
            self._check_open()
            self._save_indexes()

    def _save_indexes(self) -> None:
        """Write the checkpoint unless it is current (the caller holds the write lock)."""
        if self._saved:
            return
        self._repair()  # what a failed removal left in the indexes is not saved
        meta = {
            "kind": self.index_kind,
            "options": self._index.options(),
            "gallery": self.id,
            "dim": self.record.dim,
            "next_id": self.record.next_id(),
            "next_deletion": self.record.next_deletion(),
        }
        ids = np.fromiter(self._labels, dtype=np.int64, count=len(self._labels))
        labels = np.fromiter(self._labels.values(), dtype=np.int64, count=len(self._labels))
        indexes = {"vectors": self._index, "base": self._base_index()}
        save_checkpoint(self.path, meta, ids, labels, indexes)
        self._saved = True

    def _found_damage(self, error: CorruptDataError) -> None:
        self._damage = error

    def verify(self) -> None:
        """Wait for the integrity check of the record that opening started; raise
        :class:`CorruptDataError` if it found damage (every call raises it from then on)."""
        self._integrity.wait()

    def _filled_index(
        self, part: str, ids: np.ndarray, vectors: np.ndarray, refill: bool = False
    ) -> VectorIndex:
        """An index holding exactly the record's items: FAISS is filled anew; a Milvus
        collection that lags the record (a crash between the two), has another index type, or
        (``refill``) may hold other vectors, is refilled from it."""
        if not self.vectors_uri:
            index = make_index(self.index_kind, self.record.dim, "cosine", **self._search_options())
            index.add(ids, vectors)
            return index
        collection = milvus_collection(self.path, self.id, part)
        arguments = {
            "metric": "cosine",
            "index_type": MILVUS_INDEX_TYPES[self.index_kind],
            "token": config.settings().milvus_token,
        }
        index = MilvusIndex(self.vectors_uri, collection, self.record.dim, **arguments)
        if refill or index.count() != len(ids) or index.held_index_type != index.index_type:
            index.drop()
            index = MilvusIndex(self.vectors_uri, collection, self.record.dim, **arguments)
            index.add(ids, vectors)
        return index

    # ---- building and opening ------------------------------------------------------------

    @classmethod
    def build(
        cls,
        path: str | Path,
        pipeline: SearchPipeline,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        class_names: Sequence[str] = (),
        owner: str = ADMIN,
        visibility: str = "public",
        title: str = "",
        refit: bool = True,
        vectors_uri: str | None = None,
        progress: bool = True,
    ) -> Gallery:
        """Encode ``images`` with ``pipeline`` and write a new gallery folder at ``path``.

        ``refit``: fit the pipeline's whitening and re-ranking on these images
        (a registered pipeline on its dataset); ``False`` keeps an already
        fitted pipeline's whitening (a small folder of the user's own images).
        ``owner`` is the tenant it belongs to, ``visibility`` who may search it, ``title``
        what a person calls it (default: the folder's name);
        ``progress``: a progress bar while encoding, where someone watches.
        The folder appears whole or not at all.
        """
        path = Path(path)
        check_tenant_name(owner)
        check_visibility(visibility)
        if path.exists():
            raise InvalidInputError(f"{path} already exists: choose another folder, or delete it")
        check_images(images)
        labels = _labels(labels, len(images))
        features = encode_images(pipeline.encoder, images, progress=progress)
        if not refit and pipeline.image_shape != tuple(images.shape[1:]):
            raise InvalidInputError(
                f"the pipeline reads {pipeline.image_shape} images, got {images.shape[1:]}"
            )
        kind = gallery_index_kind(config.settings().gallery_index, len(images), bool(vectors_uri))
        pipeline.index_kind = augmentation_index(kind)
        if refit:
            base, vectors = pipeline.fit_vectors(features, images.shape[1:])
        else:
            base = pipeline.unit_vectors(features)
            vectors = pipeline.augmented(base) if len(base) > pipeline.expansion_k else base
        description = {
            "format": GALLERY_FORMAT_VERSION,
            "id": uuid.uuid4().hex,
            "owner": owner,
            "visibility": visibility,
            "title": title or path.name,
            "image_shape": list(images.shape[1:]),
            "class_names": list(class_names),
            "dim": int(base.shape[1]),
        }
        shared = bool(vectors_uri) and is_server(vectors_uri)
        if shared:
            description["record"] = "milvus"
        building = path.parent / f".building-{path.name}-{uuid.uuid4().hex[:8]}"
        building.mkdir(parents=True)
        record: GalleryRecord | MilvusRecord | None = None
        try:
            pipeline.save(building / "pipeline", include_index=False)
            if shared:
                assert vectors_uri is not None
                record = SharedGallery.new_record(vectors_uri, description, kind)
            else:
                record = GalleryRecord(building / "record.sqlite", base.shape[1], images.shape[1:])
            record.add(np.arange(len(images)), labels, images, base, vectors)
            record.close()
            write_json(building / "gallery.json", description)
            try:
                building.rename(path)
            except OSError:
                if not path.exists():
                    raise
                raise InvalidInputError(  # another process built one there meanwhile
                    f"{path} already exists: choose another folder, or delete it"
                ) from None
        except BaseException:
            if isinstance(record, MilvusRecord):  # made for this build alone: nobody reads it
                with suppress(Exception):
                    record.drop()
            raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        gallery = cls.open(path, vectors_uri)
        gallery.checkpoint()
        return gallery

    @classmethod
    def open(cls, path: str | Path, vectors_uri: str | None = None) -> Gallery:
        """Reopen a gallery folder; ``vectors_uri`` picks the index (``None``: FAISS in memory)."""
        path = Path(path)
        if not (path / "gallery.json").is_file():
            raise DataNotFoundError(f"no gallery at {path} (no gallery.json): build one first")
        try:
            description = json.loads((path / "gallery.json").read_text(encoding="utf-8"))
            dim, image_shape = description["dim"], description["image_shape"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CorruptDataError(
                f"{path / 'gallery.json'}: not a gallery description ({error}); build it again"
            ) from None
        if description.get("record") == "milvus":
            return SharedGallery.open_shared(path, description, vectors_uri)
        lock = FolderLock(path)
        record = None
        try:
            pipeline = SearchPipeline.open(path / "pipeline")
            record = GalleryRecord(path / "record.sqlite", dim, image_shape)
            return cls(path, description, pipeline, record, lock, vectors_uri)
        except BaseException:
            if record is not None:
                record.close()
            lock.release()
            raise

    def close(self, save: bool = True) -> None:
        """Save the embedded indexes (:meth:`checkpoint`; ``save=False``: not) and let the
        folder go."""
        with self._lock.writing():
            if self._closed:
                return
            if save and not self.vectors_uri and self._damage is None:
                try:
                    self._save_indexes()
                except Exception as error:  # the record has everything: a reopen rebuilds
                    warnings.warn(
                        f"{self.path / CHECKPOINT_FOLDER} was not saved ({type(error).__name__}: "
                        f"{error}): the next open builds the gallery's index from its record",
                        stacklevel=2,
                    )
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Let go of what the open gallery holds (the caller holds the write lock)."""
        self._integrity.stop()
        for index in (self._index, self._base):
            if index is not None:
                index.close()
        self.record.close()
        assert self._folder_lock is not None
        self._folder_lock.release()

    def remove(self) -> None:
        """Close the gallery and delete it: its folder, and its vectors in Milvus if there (a
        damaged gallery too: building it again is the remedy)."""
        with self._lock.writing():
            self._check_open(damaged=True)
            for index in (self._index, self._base):
                if isinstance(index, MilvusIndex):
                    index.drop()
        self.close(save=False)
        removing = self.path.parent / f".removing-{self.path.name}-{uuid.uuid4().hex[:8]}"
        self.path.rename(removing)  # the gallery is gone at once, whole; its bytes follow
        shutil.rmtree(removing, ignore_errors=True)

    def exists(self) -> bool:
        """Whether its folder is still there: a process that shares it may have deleted it."""
        return (self.path / "gallery.json").is_file()

    def set_visibility(self, visibility: str) -> None:
        """Make the gallery ``public`` or ``private`` (written to ``gallery.json`` atomically)."""
        check_visibility(visibility)
        with self._lock.writing():
            self._check_open()
            description = json.loads((self.path / "gallery.json").read_text(encoding="utf-8"))
            write_json(self.path / "gallery.json", description | {"visibility": visibility})
            self.visibility = visibility

    def _check_open(self, damaged: bool = False) -> None:
        """Raise unless the gallery is open and (unless ``damaged`` is allowed) its record has
        not been found damaged."""
        if self._closed:
            raise GalleryClosedError(
                f"the gallery {self.name!r} is closed: open it again with Gallery.open"
            )
        if self._damage is not None and not damaged:
            raise self._damage

    # ---- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def known_size(self) -> int | None:
        """The number of items when this process knows it without asking a server (the
        service checks ``k`` against it on its event loop); ``None`` when it does not."""
        return len(self._labels)

    def search(self, images: np.ndarray, k: int = 10) -> SearchResult:
        """The ``k`` nearest items to each query image (``image_shape``, uint8 or float)."""
        if isinstance(images, np.ndarray) and images.ndim == len(self.image_shape):
            images = images[np.newaxis]
        return self.search_vectors(self.encode(images), k)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """The searched vectors of query images: ``search`` is ``search_vectors(encode(...))``."""
        check_images(images, self.image_shape)
        return self.pipeline.unit_vectors(encode_images(self.pipeline.encoder, images))

    def search_vectors(self, queries: np.ndarray, k: int = 10) -> SearchResult:
        """Search with the pipeline's unit vectors (see ``SearchPipeline.unit_vectors``)."""
        queries = check_vectors(queries, "query vectors", self.record.dim)
        with self._lock.reading():
            self._check_open()
            self._repair()
            ids, distances, labels = self._searched(queries, k)
        return SearchResult(ids, None, distances, labels)

    def _searched(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` nearest items' ids, distances and labels (the caller holds the read lock)."""
        count = len(self._labels)
        if not count:
            raise EmptyGalleryError(f"the gallery {self.name!r} is empty: add images first")
        k = check_k(k, count)
        expansion = min(self.pipeline.expansion_k, count - 1)
        if expansion:
            queries = expanded_queries(
                self._index, queries, expansion, self.pipeline.expansion_alpha
            )
        ids, distances = self._index.search(queries, k)
        labels = np.array([[self._labels[item] for item in row] for row in ids.tolist()])
        return ids, distances, labels.astype(np.int64)

    def image(self, item: int) -> np.ndarray:
        """The stored image of ``item``."""
        self._check_open()
        image = self.record.image(item)
        if image is None:
            raise InvalidInputError(f"no gallery item with id {item}")
        return image

    def label(self, item: int) -> int | None:
        label = self._labels.get(int(item), NO_LABEL)
        return None if label == NO_LABEL else label

    # ---- writing ----------------------------------------------------------------------------

    def add(
        self, images: np.ndarray, labels: Sequence[int | None] | np.ndarray | None = None
    ) -> np.ndarray:
        """Add images (``image_shape`` uint8); returns their new ids once they are on disk."""
        if isinstance(images, np.ndarray) and images.ndim == len(self.image_shape):
            images = images[np.newaxis]
        check_images(images, self.image_shape)
        if images.dtype != np.uint8:
            raise InvalidInputError("the gallery stores uint8 images (0..255); convert them first")
        labels = _labels(labels, len(images))
        base = self.encode(images)
        with self._lock.writing():
            self._check_open()
            self._base_index()  # before the record changes (see there)
            vectors = self._augmented(base)
            self._repair()
            return self._store(labels, images, base, vectors)

    def _store(
        self, labels: np.ndarray, images: np.ndarray, base: np.ndarray, vectors: np.ndarray
    ) -> np.ndarray:
        """Record new items and index them; their ids (the caller holds the write lock)."""
        assert isinstance(self.record, GalleryRecord) and self._base is not None
        ids = np.arange(len(images), dtype=np.int64) + self.record.next_id()
        self._saved = False
        self.record.add(ids, labels, images, base, vectors)
        try:
            self._index.add(ids, vectors)
            self._base.add(ids, base)
        except Exception:
            self.record.delete(ids)  # first: the record is what a reopen serves
            with suppress(Exception):  # what it could not take out is kept out (stale)
                self._remove_from_indexes(ids)
            raise
        self._labels.update(zip(ids.tolist(), labels.tolist(), strict=True))
        return ids

    def delete(self, ids: Sequence[int]) -> None:
        """Remove items by id; all of them, or none when one is unknown."""
        ids = np.asarray([int(item) for item in ids], dtype=np.int64)
        with self._lock.writing():
            self._check_open()
            self._remove(ids)

    def _remove(self, ids: np.ndarray) -> None:
        """Take items out of the record and the indexes (the caller holds the write lock)."""
        unknown = [item for item in ids.tolist() if item not in self._labels]
        if unknown:
            raise InvalidInputError(f"no gallery item with id {unknown[:10]}: nothing deleted")
        self._base_index()  # before the record changes (see there)
        self._repair()
        self._index.check_reachable()  # a server that is down: refused, nothing changed
        self._saved = False
        self.record.delete(ids)
        for item in ids.tolist():
            del self._labels[item]
        with suppress(BackendUnavailableError):  # down since: durable, and kept out (stale)
            self._remove_from_indexes(ids)

    def _remove_from_indexes(self, ids: np.ndarray) -> None:
        try:
            self._index.remove(ids)
            self._base_index().remove(ids)
        except Exception:
            with self._repair_lock:
                self._stale.update(ids.tolist())
            raise

    def _repair(self) -> None:
        """Bring the indexes back to the record where a failed change left them: refill the
        Milvus collections a rebuild left half refilled, take out what a failed removal left.
        Until that succeeds, searches raise (the service answers 503), never return an item the
        record no longer has or miss one it has."""
        with self._repair_lock:
            if self._refill_due:
                # the replaced clients are left open: a search in flight may still be using them
                items = self.record.read_all()
                self._index = self._filled_index("vectors", items.ids, items.vectors, refill=True)
                self._base = self._filled_index("base", items.ids, items.base, refill=True)
                self._stale.clear()
                self._refill_due = False
            if self._stale:
                ids = np.fromiter(self._stale, dtype=np.int64)
                self._index.remove(ids)
                self._base_index().remove(ids)
                self._stale.clear()

    def rebuild(self) -> None:
        """Redo database-side augmentation over the whole gallery (one transaction), and fill
        its indexes anew."""
        with self._lock.writing():
            self._check_open()
            self._repair()
            remove_checkpoint(self.path)  # its vectors are about to change
            self._checkpoint, self._saved = None, False
            items = self.record.read_all()
            k = self.pipeline.expansion_k
            vectors = items.vectors
            if k and len(items.ids) > k:
                self.pipeline.index_kind = augmentation_index(self.index_kind)
                vectors = self.pipeline.augmented(items.base)
                self.record.replace_vectors(items.ids, vectors)
            self._index = self._refilled(self._index, "vectors", items.ids, vectors)
            self._base = self._refilled(self._base, "base", items.ids, items.base)
            self._refill_due = False

    def _refilled(
        self, index: VectorIndex | None, part: str, ids: np.ndarray, vectors: np.ndarray
    ) -> VectorIndex:
        if isinstance(index, MilvusIndex):  # the server compacts what it deletes
            self._refill_due = True  # until both hold the record's vectors again (_repair)
            index.remove(ids)
            index.add(ids, vectors)
            return index
        if index is not None:
            index.close()
        return self._filled_index(part, ids, vectors)

    def _augmented(self, base: np.ndarray) -> np.ndarray:
        """DBA for new items: each averaged with its nearest existing items (see the module)."""
        if not self.pipeline.expansion_k:
            return base
        return expanded_queries(
            self._base_index(), base, self.pipeline.expansion_k, self.pipeline.expansion_alpha
        )

    def check_reachable(self) -> None:
        """Raise :class:`BackendUnavailableError` if the server holding the vectors is down."""
        for index in (self._index, self._base):
            if index is not None:
                index.check_reachable()

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "owner": self.owner,
            "visibility": self.visibility,
            "items": len(self),
            "image_shape": list(self.image_shape),
            "class_names": list(self.class_names),
            "steps": self.pipeline.steps,
            "view": "faiss" if not self.vectors_uri else "milvus",
            "index": self.index_kind,
        }


class SharedGallery(Gallery):
    """A gallery whose whole record is in Milvus (:mod:`aesearch_utils.store.milvus_record`):
    any number of processes, on any machines, open it at once and serve the same items.

    What :class:`Gallery` keeps in this process (the labels, the next id, a checkpoint, the
    folder's lock) is read from the server instead, every read seeing what any process had
    acknowledged. The folder (``gallery.json`` with ``"record": "milvus"``, ``pipeline/``) is
    only read. A gallery keeps the Milvus index it was built with; a reopen does not refill.
    """

    record: MilvusRecord

    @staticmethod
    def new_record(vectors_uri: str, description: dict[str, Any], kind: str) -> MilvusRecord:
        """The empty record of a gallery being built, searched with the index ``kind``."""
        return MilvusRecord(
            vectors_uri, description["id"], description["dim"], description["image_shape"],
            MILVUS_INDEX_TYPES[kind], config.settings().milvus_token, create=True,
        )  # fmt: skip

    @classmethod
    def open_shared(
        cls, path: Path, description: dict[str, Any], vectors_uri: str | None
    ) -> SharedGallery:
        if not vectors_uri or not is_server(vectors_uri):
            raise InvalidInputError(
                f"the gallery {path.name!r} keeps its record on a Milvus server: set "
                "AESEARCH_VECTORS_URI (or --vectors-uri) to that server's URI"
            )
        pipeline = SearchPipeline.open(path / "pipeline")
        record = MilvusRecord(
            vectors_uri, description.get("id", ""), description["dim"],
            description["image_shape"], token=config.settings().milvus_token,
        )  # fmt: skip
        return cls(path, description, pipeline, record, None, vectors_uri)

    def _attach(self) -> None:
        self._index, self._base = self.record.items, self.record.base
        kinds = {milvus: kind for kind, milvus in MILVUS_INDEX_TYPES.items()}
        self.index_kind = kinds.get(self.record.items.held_index_type, "exact")
        setting = config.settings().gallery_index
        if setting not in ("auto", self.index_kind):
            warnings.warn(
                f"the gallery {self.name!r} searches the {self.index_kind} index it was built "
                f"with, not AESEARCH_GALLERY_INDEX={setting}: a gallery in Milvus keeps its "
                "index; build it again to change it",
                stacklevel=4,
            )

    @property
    def visibility(self) -> str:
        """Read from ``gallery.json`` at each use: another process may have changed it, and a
        gallery made private must be so everywhere at once."""
        with suppress(OSError, ValueError, AttributeError):
            description = json.loads((self.path / "gallery.json").read_text(encoding="utf-8"))
            self._visibility = description.get("visibility", "public")
        return self._visibility

    @visibility.setter
    def visibility(self, visibility: str) -> None:
        self._visibility = visibility

    def _release(self) -> None:
        self.record.close()

    def verify(self) -> None:
        """Nothing to wait for: the server checks what it stores."""

    def __len__(self) -> int:
        return self.record.count()

    @property
    def known_size(self) -> None:
        """Only the server knows: a search says when the gallery is empty, and finds fewer
        than ``k`` items when it holds fewer."""
        return None

    def label(self, item: int) -> int | None:
        label = self.record.labels_of([int(item)]).get(int(item), NO_LABEL)
        return None if label == NO_LABEL else label

    def _searched(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Two reads: the neighbours that expand the queries, which need not wait for other
        processes' latest writes, then the search, which sees every write acknowledged before
        it began, with the labels of what it finds (no count: that would be a third read)."""
        k = check_k(k, MAX_K)
        if self.pipeline.expansion_k:
            queries = expanded_queries(
                self._index, queries, self.pipeline.expansion_k, self.pipeline.expansion_alpha
            )
        ids, distances, labels = self.record.items.search_values(queries, k, "label")
        found = int((ids >= 0).sum(axis=1).min())  # fewer than k when the gallery is smaller
        if not found:
            raise EmptyGalleryError(f"the gallery {self.name!r} is empty: add images first")
        return (
            ids[:, :found],
            distances[:, :found],
            np.array([row[:found] for row in labels], dtype=np.int64),
        )

    def _store(
        self, labels: np.ndarray, images: np.ndarray, base: np.ndarray, vectors: np.ndarray
    ) -> np.ndarray:
        ids = self.record.new_ids(len(images))
        self.record.add(ids, labels, images, base, vectors)
        return ids

    def _remove(self, ids: np.ndarray) -> None:
        self.record.delete(ids.tolist())

    def rebuild(self) -> None:
        raise InvalidInputError(
            f"the gallery {self.name!r} keeps its record in Milvus, where a rebuild would "
            "change every item under the other processes' searches: build it again instead"
        )


def _labels(labels: Sequence[int | None] | np.ndarray | None, count: int) -> np.ndarray:
    if labels is None:
        return np.full(count, NO_LABEL, dtype=np.int64)
    values = [NO_LABEL if label is None else label for label in labels]
    if len(values) != count:
        raise InvalidInputError(f"{len(values)} labels for {count} images")
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer) or (array < NO_LABEL).any():
        raise InvalidInputError("labels are whole numbers >= 0 (or None for no label)")
    return array.astype(np.int64)


def build_registered_gallery(
    path: str | Path, pipeline_name: str, vectors_uri: str | None = None
) -> Gallery:
    """A gallery of a registered pipeline's dataset (its training split), built at ``path``.

    The pipeline's models are trained first unless the training cache has them.
    """
    recipe = pipeline_recipe(pipeline_name)
    data = load_dataset(recipe.dataset)
    encoder = features_encoder(recipe.features, data, data.x_train)
    pipeline = SearchPipeline(encoder, **recipe.settings())
    pipeline.metadata = {"pipeline": pipeline_name, "dataset": data.name}
    return Gallery.build(
        path, pipeline, data.x_train, data.y_train, class_names=data.class_names,
        title=dataset_spec(recipe.dataset).title, vectors_uri=vectors_uri,
    )  # fmt: skip


def build_folder_gallery(
    path: str | Path,
    folder: str | Path,
    pipeline: SearchPipeline,
    vectors_uri: str | None = None,
    *,
    owner: str = ADMIN,
    visibility: str = "public",
) -> Gallery:
    """A gallery of the images in ``folder`` (flat, or one sub-folder per class), converted to
    ``pipeline``'s image shape and searched with its encoder and whitening as fitted; it
    belongs to ``owner``."""
    assert pipeline.image_shape is not None
    height, width, channels = pipeline.image_shape
    data = load_image_folder(folder, image_size=(height, width), grayscale=channels == 1)
    return Gallery.build(
        path, pipeline, data.x_train, data.y_train, class_names=data.class_names, refit=False,
        owner=owner, visibility=visibility, vectors_uri=vectors_uri,
    )  # fmt: skip
