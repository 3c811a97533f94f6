"""The galleries a caller can see: list them, describe one, share or hide it, delete it."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from aesearch_utils.service.deps import (
    CurrentCaller,
    OwnedGallery,
    ReadableGallery,
    State,
    visible_galleries,
)
from aesearch_utils.service.schemas import GalleryDeleted, GalleryInfo, VisibilityChange
from aesearch_utils.store.gallery import Gallery

router = APIRouter(prefix="/api/galleries", tags=["galleries"])


async def described(galleries: Iterable[Gallery]) -> list[GalleryInfo]:
    """Each gallery's description, read in a worker thread: a gallery in Milvus asks the
    server for its size, which must not hold up the event loop."""
    return await run_in_threadpool(lambda: [GalleryInfo(**one.info()) for one in galleries])


@router.get("")
async def list_galleries(state: State, who: CurrentCaller) -> list[GalleryInfo]:
    """The galleries this caller can search: every public one, and the caller's own."""
    return await described(visible_galleries(state, who))


@router.get("/{name}")
async def gallery_info(gallery: ReadableGallery) -> GalleryInfo:
    (info,) = await described([gallery])
    return info


@router.patch("/{name}")
async def change_visibility(gallery: OwnedGallery, change: VisibilityChange) -> GalleryInfo:
    """Share a gallery (``public``: anyone may search it) or hide it again (``private``)."""
    await run_in_threadpool(gallery.set_visibility, change.visibility)
    (info,) = await described([gallery])
    return info


@router.delete("/{name}")
async def delete_gallery(gallery: OwnedGallery, state: State) -> GalleryDeleted:
    """Delete the gallery, its images and its vectors: it cannot be undone."""
    await state.remove_gallery(gallery.name)
    return GalleryDeleted(deleted=gallery.name)
