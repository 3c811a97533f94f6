"""A gallery's images: see one, add one, delete one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from aesearch_utils.errors import InvalidInputError
from aesearch_utils.service.bodies import read_form_file
from aesearch_utils.service.deps import ImageId, OwnedGallery, ReadableGallery, State
from aesearch_utils.service.errors import ServiceError
from aesearch_utils.service.schemas import Added, Deleted
from aesearch_utils.service.uploads import UnreadableImageError, decode_upload, png_bytes

router = APIRouter(prefix="/api/galleries/{name}/images", tags=["images"])


def _no_image(item: int, name: str) -> ServiceError:
    return ServiceError(404, f"no image with id {item} in gallery {name!r}")


@router.get(
    "/{item}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the image as PNG"}},
)
async def gallery_image(gallery: ReadableGallery, item: ImageId) -> Response:
    """A gallery image as PNG."""
    try:
        image = await run_in_threadpool(gallery.image, item)
    except InvalidInputError:
        raise _no_image(item, gallery.name) from None
    return Response(png_bytes(image), media_type="image/png")


@router.post("", status_code=201, responses={400: {}, 401: {}, 403: {}, 404: {}, 413: {}})
async def add_image(
    gallery: OwnedGallery,
    state: State,
    image: Annotated[UploadFile, File(description="the image to add")],
    label: Annotated[int | None, Form(ge=0)] = None,
) -> Added:
    """Add an image; once the answer comes, it is on disk and found by searches."""
    if label is not None and gallery.class_names and label >= len(gallery.class_names):
        raise ServiceError(
            400, f"label {label} is not one of this gallery's {len(gallery.class_names)} classes"
        )
    data = await read_form_file(image, state.settings.max_upload_bytes)
    try:
        upload = await run_in_threadpool(decode_upload, data, gallery.image_shape)
    except UnreadableImageError as error:
        raise ServiceError(400, str(error)) from None
    (item,) = await run_in_threadpool(gallery.add, upload.image, [label])
    return Added(id=int(item), label=label, items=await run_in_threadpool(len, gallery))


@router.delete("/{item}", responses={401: {}, 403: {}, 404: {}})
async def delete_image(gallery: OwnedGallery, item: ImageId) -> Deleted:
    try:
        await run_in_threadpool(gallery.delete, [item])
    except InvalidInputError:
        raise _no_image(item, gallery.name) from None
    return Deleted(deleted=item, items=await run_in_threadpool(len, gallery))
