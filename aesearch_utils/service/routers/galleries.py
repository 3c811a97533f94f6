"""The galleries a caller can see: list them, describe one, share or hide it, delete it."""

from __future__ import annotations

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

router = APIRouter(prefix="/api/galleries", tags=["galleries"])


@router.get("")
async def list_galleries(state: State, who: CurrentCaller) -> list[GalleryInfo]:
    """The galleries this caller can search: every public one, and the caller's own."""
    return [GalleryInfo(**gallery.info()) for gallery in visible_galleries(state, who)]


@router.get("/{name}")
async def gallery_info(gallery: ReadableGallery) -> GalleryInfo:
    return GalleryInfo(**gallery.info())


@router.patch("/{name}")
async def change_visibility(gallery: OwnedGallery, change: VisibilityChange) -> GalleryInfo:
    """Share a gallery (``public``: anyone may search it) or hide it again (``private``)."""
    await run_in_threadpool(gallery.set_visibility, change.visibility)
    return GalleryInfo(**gallery.info())


@router.delete("/{name}")
async def delete_gallery(gallery: OwnedGallery, state: State) -> GalleryDeleted:
    """Delete the gallery, its images and its vectors: it cannot be undone."""
    await state.remove_gallery(gallery.name)
    return GalleryDeleted(deleted=gallery.name)
