"""Reading an upload, a form field's or the whole body, never past the size limit."""

from __future__ import annotations

from fastapi import Request, UploadFile

from aesearch_utils.service.errors import ServiceError


def _too_large(limit: int) -> ServiceError:
    return ServiceError(413, f"the file is larger than {limit:,} bytes: send a smaller one")


async def read_form_file(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data


async def read_body(request: Request, limit: int) -> bytes:
    """The body itself as the file (``Content-Type: image/...``), at most ``limit`` bytes."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise ServiceError(422, "image: the form has no file field named 'image'")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise _too_large(limit)
    return bytes(data)
