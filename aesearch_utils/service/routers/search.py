"""Search a gallery with an image: the top ``k`` gallery images, nearest first."""

from __future__ import annotations

import base64
import time
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile

from aesearch_utils.search.index import SearchResult
from aesearch_utils.service.bodies import read_body, read_form_file
from aesearch_utils.service.deps import ReadableGallery, State
from aesearch_utils.service.errors import ServiceError
from aesearch_utils.service.middleware import STARTED
from aesearch_utils.service.schemas import Hit, QueryImage, SearchAnswer
from aesearch_utils.service.uploads import UnreadableImageError, png_bytes
from aesearch_utils.store.gallery import Gallery

router = APIRouter(prefix="/api/galleries", tags=["search"])

MAX_K = 100
"""The largest ``k`` a search may ask (``Settings.max_k`` may lower it)."""


def hits(gallery: Gallery, found: SearchResult) -> list[Hit]:
    rows = []
    for rank, (item, distance, label) in enumerate(
        zip(found.ids[0].tolist(), found.distances[0].tolist(), found.labels[0].tolist(),
            strict=True),
        start=1,
    ):  # fmt: skip
        label = None if label < 0 else label
        named = label is not None and label < len(gallery.class_names)
        rows.append(
            Hit(
                rank=rank,
                id=item,
                label=label,
                label_name=gallery.class_names[label] if named else None,
                distance=round(distance, 6),
                image_url=f"/api/galleries/{gallery.name}/images/{item}",
            )
        )
    return rows


@router.post("/{name}/search", responses={400: {}, 404: {}, 409: {}, 413: {}})
async def search(
    gallery: ReadableGallery,
    state: State,
    request: Request,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    image: Annotated[
        UploadFile | None,
        File(description="the query image (PNG, JPEG, GIF, BMP, WebP) as a form field; "
             "or send the file itself as the body, with its image/... content type"),
    ] = None,
) -> SearchAnswer:  # fmt: skip
    """The ``k`` gallery images nearest to the uploaded one."""
    if k > state.settings.max_k:
        raise ServiceError(422, f"k: Input should be less than or equal to {state.settings.max_k}")
    size = gallery.known_size  # None: the server's to tell, and the search tells it (409)
    if size == 0:
        raise ServiceError(409, f"the gallery {gallery.name!r} is empty: add images first")
    if size is not None and k > size:  # one request's k must not fail its whole batch
        raise ServiceError(400, f"k must be at most the gallery size {size}, got {k}")
    limit = state.settings.max_upload_bytes
    data = await (read_form_file(image, limit) if image is not None else read_body(request, limit))
    # from the request's first moment: a form is parsed before this function runs
    state.metrics.stage("read_body", time.perf_counter() - request.scope[STARTED])
    try:
        upload, found = await state.batcher(gallery.name).search(data, k)
    except UnreadableImageError as error:
        raise ServiceError(400, str(error)) from None
    responding = time.perf_counter()
    answer = SearchAnswer(
        gallery=gallery.name,
        k=k,
        query=QueryImage(
            image="data:image/png;base64," + base64.b64encode(png_bytes(upload.image)).decode(),
            inverted=upload.inverted,
            transparent=upload.transparent,
        ),
        results=hits(gallery, found),
    )
    state.metrics.stage("respond", time.perf_counter() - responding)
    return answer
