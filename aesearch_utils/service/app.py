"""The web service: a JSON API over the galleries, FastAPI's OpenAPI docs, and a search page.

This module only builds the app: each resource has its router in
:mod:`~aesearch_utils.service.routers` (``/docs`` lists every route with a
form to try it), the dependencies that say who may reach which gallery are in
:mod:`~aesearch_utils.service.deps`, the answers' models in
:mod:`~aesearch_utils.service.schemas`.

Every error, whatever its status, is JSON ``{"error": "..."}`` that says what
was wrong (:mod:`~aesearch_utils.service.errors`); the server stays up and
the gallery unchanged. Encoding runs in worker threads, never on the event
loop, and concurrent searches of one gallery are encoded and searched
together (:mod:`~aesearch_utils.service.batcher`). No route takes a file
path from the client.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from aesearch_utils import config
from aesearch_utils.config import Settings, check_token
from aesearch_utils.service.errors import install_error_handlers
from aesearch_utils.service.middleware import ServiceMiddleware
from aesearch_utils.service.routers import ROUTERS
from aesearch_utils.service.routers.pages import STATIC
from aesearch_utils.service.state import ServiceState, open_galleries
from aesearch_utils.store.gallery import Gallery
from aesearch_utils.store.tenants import TenantRegistry


def create_app(
    settings: Settings | None = None, galleries: dict[str, Gallery] | None = None
) -> FastAPI:
    """The service over ``galleries`` (default: those in ``settings.galleries_dir``)."""
    settings = settings or config.settings()
    if settings.write_token:
        check_token(settings.write_token, config.WRITE_TOKEN_VARIABLE)
    galleries, waiting = (galleries, {}) if galleries is not None else open_galleries(settings)
    state = ServiceState(
        settings, galleries, TenantRegistry.in_folder(settings.galleries_dir), waiting
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start()
        opening = asyncio.create_task(state.open_waiting_galleries())
        yield
        opening.cancel()
        await state.close()

    # /docs and /redoc with Swagger UI's and ReDoc's files served from here, not a CDN: the
    # docs work on a machine without internet
    app = FastAPIOffline(
        favicon_url="/static/favicon.svg",
        lifespan=lifespan,
        title="aesearch",
        description="Search by image with autoencoders: upload an image, get its nearest "
        "gallery images.",
        version="0.1.0",
    )
    app.state.service = state
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        ServiceMiddleware, metrics=state.metrics, body_timeout_s=settings.body_timeout_s
    )
    return app
