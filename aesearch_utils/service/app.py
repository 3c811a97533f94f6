"""The web service: a JSON API over the galleries, FastAPI's OpenAPI docs, and a search page.

Routes (``/docs`` shows them with a form to try each):

- ``GET /``: the page (choose, drop or draw an image; see its nearest gallery images);
- ``GET /api/health``; ``GET /api/galleries``: the loaded galleries;
- ``POST /api/galleries/{name}/search?k=10`` with a file (a form field, or the body): the top ``k``;
- ``GET /api/galleries/{name}/images/{id}``: a gallery image as PNG;
- ``POST /api/galleries/{name}/images`` with a file and an optional label: add it;
- ``DELETE /api/galleries/{name}/images/{id}``: remove it.

Every error is a 4xx JSON ``{"error": "..."}`` that says what was wrong; the
server stays up and the gallery unchanged. Encoding runs in worker threads,
never on the event loop, and concurrent searches of one gallery are encoded
and searched together (:class:`QueryBatcher`): one model call for many
requests costs little more than for one.

Writes need no token on 127.0.0.1 (the default); bound to any other address
the service refuses to start unless ``AESEARCH_WRITE_TOKEN`` is set, and
then adding and deleting require ``Authorization: Bearer <token>``. No route
takes a file path from the client.
"""

import asyncio
import base64
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image

from aesearch_utils import config
from aesearch_utils.errors import AesearchError, InvalidInputError
from aesearch_utils.search.index import SearchResult
from aesearch_utils.service.uploads import UnreadableImageError, Upload, decode_upload
from aesearch_utils.store.gallery import Gallery

PAGE = Path(__file__).with_name("static") / "index.html"


@dataclass(frozen=True)
class ServiceSettings:
    """What the service reads from the environment (``from_environment``) or a test sets."""

    galleries_dir: Path = field(default_factory=config.galleries_dir)
    vectors_uri: str = ""
    """Empty: FAISS in memory; else a Milvus URI (see ``aesearch_utils.store.views``)."""
    write_token: str = ""
    max_upload_bytes: int = 5 * 2**20
    max_k: int = 100

    @classmethod
    def from_environment(cls) -> "ServiceSettings":
        environ = os.environ
        return cls(
            galleries_dir=config.galleries_dir(),
            vectors_uri=environ.get("AESEARCH_VECTORS_URI", ""),
            write_token=environ.get("AESEARCH_WRITE_TOKEN", ""),
            max_upload_bytes=int(environ.get("AESEARCH_MAX_UPLOAD_BYTES", 5 * 2**20)),
        )


class ServiceError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class QueryBatcher:
    """Gathers the searches that arrive together for one gallery into one decode-encode-search.

    The first request of a batch waits ``max_wait_s`` for others (at most ``max_batch``); the
    batch then runs in the batcher's own worker thread (decoding every upload, one model call,
    one search with the largest ``k`` asked) and each request gets its own rows back, or its
    own error. Under load, requests queue while a batch runs, so batches grow by themselves.
    """

    def __init__(self, gallery: Gallery, max_batch: int = 64, max_wait_s: float = 0.002) -> None:
        self.gallery = gallery
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"search-{gallery.name}")

    async def search(self, data: bytes, k: int) -> tuple[Upload, SearchResult]:
        """The decoded upload and its top ``k``; raises the upload's own error."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run())
        answer = asyncio.get_running_loop().create_future()
        await self._queue.put((data, k, answer))
        return await answer

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), deadline - loop.time()))
                except TimeoutError:
                    break
            data = [item[0] for item in batch]
            k = max(item[1] for item in batch)
            try:
                decoded, hits = await loop.run_in_executor(self._thread, self._answer, data, k)
            except Exception as error:  # the search itself failed: every request hears it
                decoded, hits = [error] * len(batch), None
            row = 0  # the row of the next decoded upload in ``hits``
            for (_, own_k, future), upload in zip(batch, decoded, strict=True):
                if isinstance(upload, Exception):
                    if not future.done():  # a request whose client left is cancelled
                        future.set_exception(upload)
                    continue
                if not future.done():
                    ids, distances, labels = (
                        array[row : row + 1, :own_k]
                        for array in (hits.ids, hits.distances, hits.labels)
                    )
                    future.set_result((upload, SearchResult(ids, None, distances, labels)))
                row += 1

    def _answer(
        self, data: list[bytes], k: int
    ) -> tuple[list[Upload | Exception], SearchResult | None]:
        """Each upload decoded (or its error), and the top ``k`` of the decoded ones, in order."""
        decoded: list[Upload | Exception] = []
        for item in data:
            try:
                decoded.append(decode_upload(item, self.gallery.image_shape))
            except InvalidInputError as error:
                decoded.append(error)
        images = [upload.image for upload in decoded if isinstance(upload, Upload)]
        return decoded, self.gallery.search(np.stack(images), k) if images else None

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._thread.shutdown(wait=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving_in_background(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on a free port of 127.0.0.1 (a notebook
    or a test talks to it over HTTP); yields its base URL, and stops it on leaving."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def open_galleries(settings: ServiceSettings) -> dict[str, Gallery]:
    """Every gallery folder below ``settings.galleries_dir``, opened."""
    folder = settings.galleries_dir
    if not folder.is_dir():
        return {}
    return {
        path.name: Gallery.open(path, settings.vectors_uri or None)
        for path in sorted(folder.iterdir())
        if (path / "gallery.json").is_file()
    }


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()


def create_app(
    settings: ServiceSettings | None = None, galleries: dict[str, Gallery] | None = None
) -> FastAPI:
    """The service over ``galleries`` (default: those in ``settings.galleries_dir``)."""
    settings = settings or ServiceSettings.from_environment()
    loaded = galleries if galleries is not None else open_galleries(settings)
    batchers = {name: QueryBatcher(gallery) for name, gallery in loaded.items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for batcher in batchers.values():
            await batcher.close()

    app = FastAPI(
        lifespan=lifespan,
        title="aesearch",
        description="Search by image with autoencoders: upload an image, get its nearest "
        "gallery images.",
        version="0.1.0",
    )
    app.state.galleries = loaded

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(AesearchError)
    async def project_error(request: Request, error: AesearchError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}"
            for problem in error.errors()
        ]
        return JSONResponse({"error": "; ".join(problems)}, status_code=422)

    def gallery_named(name: str) -> Gallery:
        if name not in loaded:
            known = ", ".join(loaded) or "none: build one with `aesearch build`"
            raise ServiceError(404, f"unknown gallery {name!r}; loaded galleries: {known}")
        return loaded[name]

    def writer(authorization: Annotated[str, Header()] = "") -> None:
        if settings.write_token and authorization != f"Bearer {settings.write_token}":
            raise ServiceError(401, "adding and deleting need 'Authorization: Bearer <token>'")

    async def read_body(request: Request) -> bytes:
        if request.headers.get("content-type", "").startswith("multipart/"):
            raise ServiceError(422, "image: the form has no file field named 'image'")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > settings.max_upload_bytes:
                raise ServiceError(
                    413,
                    f"the file is larger than {settings.max_upload_bytes:,} bytes: "
                    "send a smaller one",
                )
        return bytes(data)

    async def read_upload(upload: UploadFile) -> bytes:
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise ServiceError(
                413,
                f"the file is larger than {settings.max_upload_bytes:,} bytes: send a smaller one",
            )
        return data

    async def decoded(upload: UploadFile, gallery: Gallery):
        data = await read_upload(upload)
        try:
            return await run_in_threadpool(decode_upload, data, gallery.image_shape)
        except UnreadableImageError as error:
            raise ServiceError(400, str(error)) from None

    def hit_rows(name: str, gallery: Gallery, hits: SearchResult) -> list[dict[str, Any]]:
        rows = []
        for item, distance, label in zip(
            hits.ids[0], hits.distances[0], hits.labels[0], strict=True
        ):
            label = None if label < 0 else int(label)
            rows.append(
                {
                    "id": int(item),
                    "label": label,
                    "label_name": (
                        gallery.class_names[label]
                        if label is not None and label < len(gallery.class_names)
                        else None
                    ),
                    "distance": round(float(distance), 6),
                    "image_url": f"/api/galleries/{name}/images/{int(item)}",
                }
            )
        return rows

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "galleries": len(loaded)}

    @app.get("/api/galleries")
    async def list_galleries() -> list[dict[str, Any]]:
        return [gallery.info() for gallery in loaded.values()]

    @app.post("/api/galleries/{name}/search")
    async def search(
        name: str,
        request: Request,
        k: Annotated[int, Query(ge=1, le=settings.max_k)] = 10,
        image: Annotated[
            UploadFile | None,
            File(description="the query image (PNG, JPEG, GIF, BMP, WebP) as a form field; "
                 "or send the file itself as the body, with its image/... content type"),
        ] = None,
    ) -> dict[str, Any]:  # fmt: skip
        gallery = gallery_named(name)
        if len(gallery) == 0:
            raise ServiceError(409, f"the gallery {name!r} is empty: add images first")
        if k > len(gallery):
            raise ServiceError(400, f"k must be at most the gallery size {len(gallery)}, got {k}")
        data = await (read_upload(image) if image is not None else read_body(request))
        try:
            upload, hits = await batchers[name].search(data, k)
        except UnreadableImageError as error:
            raise ServiceError(400, str(error)) from None
        return {
            "gallery": name,
            "k": k,
            "query": {
                "image": "data:image/png;base64,"
                + base64.b64encode(png_bytes(upload.image)).decode(),
                "inverted": upload.inverted,
                "transparent": upload.transparent,
            },
            "results": hit_rows(name, gallery, hits),
        }

    @app.get("/api/galleries/{name}/images/{item}", response_class=Response)
    async def gallery_image(name: str, item: int) -> Response:
        gallery = gallery_named(name)
        try:
            image = await run_in_threadpool(gallery.image, item)
        except InvalidInputError:
            raise ServiceError(404, f"no image with id {item} in gallery {name!r}") from None
        return Response(png_bytes(image), media_type="image/png")

    @app.post("/api/galleries/{name}/images", status_code=201, dependencies=[Depends(writer)])
    async def add_image(
        name: str,
        image: Annotated[UploadFile, File(description="the image to add")],
        label: Annotated[int | None, Form(ge=0)] = None,
    ) -> dict[str, Any]:
        gallery = gallery_named(name)
        if label is not None and gallery.class_names and label >= len(gallery.class_names):
            raise ServiceError(
                400,
                f"label {label} is not one of this gallery's {len(gallery.class_names)} classes",
            )
        upload = await decoded(image, gallery)
        (item,) = await run_in_threadpool(gallery.add, upload.image, [label])
        return {"id": int(item), "label": label, "items": len(gallery)}

    @app.delete("/api/galleries/{name}/images/{item}", dependencies=[Depends(writer)])
    async def delete_image(name: str, item: int) -> dict[str, Any]:
        gallery = gallery_named(name)
        try:
            await run_in_threadpool(gallery.delete, [item])
        except InvalidInputError:
            raise ServiceError(404, f"no image with id {item} in gallery {name!r}") from None
        return {"deleted": item, "items": len(gallery)}

    return app
