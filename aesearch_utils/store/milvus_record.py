"""A gallery's record kept in Milvus, so that any number of service processes serve one gallery.

The embedded record (:mod:`aesearch_utils.store.record`) is a SQLite file that
one process holds open (:mod:`aesearch_utils.store.locking`): a second process
over the same folder would drift from the first. With a Milvus server or
cluster, the whole record lives there instead, in two collections of the
gallery (:func:`collection`):

``items``
    id, label, image and the searched vector: what a search reads, so a
    search and the labels of its answer come from the same place;
``base``
    id and the vector before database-side augmentation: what an addition's
    neighbours are found among.

The gallery's folder then holds only ``gallery.json`` and ``pipeline/``,
written once when it is built and only read after: a path every process can
read (a shared volume). Every read is "Strong" (see
:class:`~aesearch_utils.search.vector_index.milvus.MilvusIndex`): it sees every
write that any process had acknowledged when the read began.

**Ids.** No process can hand out the next id for the others without a
counter they share, and Milvus has none. A built gallery's items are numbered
from 0; an addition takes random ids from :data:`FIRST_ADDED_ID` up to
2**53 (a browser's numbers hold them exactly) and checks that none is taken.

**Order of writes.** An addition writes ``base`` first, then ``items``: it is
searchable, and acknowledged, once its ``items`` row is written. A deletion
takes the ``items`` row out first: from then on no read returns it. A
process killed between the two leaves a ``base`` row without an item, which
only nudges the augmentation of later additions.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from contextlib import suppress

import numpy as np

from aesearch_utils.errors import CorruptDataError, InvalidInputError
from aesearch_utils.search.vector_index.milvus import MAX_TEXT, MilvusIndex

FIRST_ADDED_ID = 2**32
"""Ids from here up are drawn at random for additions; a build numbers its items below it."""
LAST_ID = 2**53 - 1
"""The largest id: a JavaScript number (the page's) holds every integer up to it exactly."""


def collection(gallery_id: str, part: str) -> str:
    """The Milvus collection of one part of a gallery: named by the gallery's id alone (made
    when it was built), so every process that reads its folder, wherever that folder is
    mounted, finds the same collections."""
    return f"aesearch_{hashlib.sha256(gallery_id.encode()).hexdigest()[:20]}_{part}"


class MilvusRecord:
    """The record of a gallery whose items all live in Milvus (see the module).

    Args:
        uri: the Milvus server or cluster.
        gallery_id: the id made when the gallery was built (its collections' names).
        dim: the vectors' size.
        image_shape: every image's shape (uint8).
        index_type: the Milvus index the collections are made with (``FLAT``, ``HNSW``,
            ``IVF_FLAT``); collections that exist keep theirs.
        token: for a server that wants one.
        create: make the collections (a build); else they must exist.
    """

    def __init__(
        self,
        uri: str,
        gallery_id: str,
        dim: int,
        image_shape: Sequence[int],
        index_type: str = "FLAT",
        token: str = "",
        create: bool = False,
    ) -> None:
        if not gallery_id:
            raise CorruptDataError(
                "the gallery has no id in its gallery.json, so its Milvus collections cannot be "
                "found: build it again"
            )
        self.uri = uri
        self.dim = int(dim)
        self.image_shape = tuple(int(size) for size in image_shape)
        image_bytes = int(np.prod(self.image_shape))
        if len(base64.b64encode(bytes(image_bytes))) > MAX_TEXT:
            raise InvalidInputError(
                f"{self.image_shape} images are {image_bytes:,} bytes: Milvus keeps at most "
                f"{MAX_TEXT * 3 // 4:,} per image; use the embedded record for larger images"
            )
        arguments = {"index_type": index_type, "token": token, "shared": True, "create": create}
        self.items = MilvusIndex(
            uri, collection(gallery_id, "items"), dim, fields={"label": "int64", "image": "text"},
            **arguments,
        )  # fmt: skip
        self.base = MilvusIndex(uri, collection(gallery_id, "base"), dim, **arguments)

    def new_ids(self, count: int) -> np.ndarray:
        """``count`` ids that no item has: drawn at random (see the module) until none is taken."""
        while True:
            span = LAST_ID - FIRST_ADDED_ID
            ids = {FIRST_ADDED_ID + secrets.randbelow(span) for _ in range(count)}
            if len(ids) == count and not self.items.values_of(sorted(ids), "label"):
                return np.fromiter(sorted(ids), dtype=np.int64, count=count)

    def add(
        self,
        ids: np.ndarray,
        labels: np.ndarray,
        images: np.ndarray,
        base: np.ndarray,
        vectors: np.ndarray,
    ) -> None:
        """Write the items: their base vectors, then the searched rows (see the module). A
        failure takes out what was written, as far as the server lets it, and raises."""
        encoded = [base64.b64encode(image.tobytes()).decode("ascii") for image in images]
        try:
            self.base.add(ids, base)
            self.items.add(ids, vectors, label=labels.tolist(), image=encoded)
        except Exception:
            for part in (self.items, self.base):
                with suppress(Exception):
                    part.remove(ids)
            raise

    def delete(self, ids: Sequence[int]) -> None:
        """Remove items by id: all of them, or none when one is unknown."""
        ids = [int(item) for item in ids]
        missing = sorted(set(ids) - self.items.values_of(ids, "label").keys())
        if missing:
            raise InvalidInputError(f"no gallery item with id {missing[:10]}: nothing deleted")
        self.items.remove(np.asarray(ids, dtype=np.int64))  # from here on no read returns them
        self.base.remove(np.asarray(ids, dtype=np.int64))

    def labels_of(self, ids: Sequence[int]) -> dict[int, int]:
        """The label of each of ``ids`` that the gallery holds, by id."""
        return self.items.values_of(ids, "label")

    def image(self, item: int) -> np.ndarray | None:
        """The item's image; ``None`` when there is no such item."""
        if not 0 <= int(item) <= LAST_ID:
            return None
        found = self.items.values_of([int(item)], "image")
        if not found:
            return None
        data = np.frombuffer(base64.b64decode(found[int(item)]), dtype=np.uint8)
        return data.reshape(self.image_shape)

    def count(self) -> int:
        return self.items.count()

    def drop(self) -> None:
        """Remove the gallery's collections: every item, for every process."""
        for part in (self.items, self.base):
            part.drop()

    def close(self) -> None:
        for part in (self.items, self.base):
            part.close()
