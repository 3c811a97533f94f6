"""What is not the JSON API: the search page and its files, health, and metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from aesearch_utils.errors import BackendUnavailableError
from aesearch_utils.service.deps import CurrentCaller, State, visible_names
from aesearch_utils.service.schemas import Health

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get(
    "/api/health", tags=["service"],
    responses={503: {"description": "the vectors server (Milvus) does not answer"}},
)  # fmt: skip
async def health(state: State, who: CurrentCaller) -> Health:
    """Ok when every gallery can be searched: with a Milvus server, it answered just now."""
    if state.waiting:
        waiting = ", ".join(state.waiting)
        raise BackendUnavailableError(f"galleries wait for their vectors' server: {waiting}")
    for gallery in list(state.galleries.values()):
        await asyncio.to_thread(gallery.check_reachable)  # raises: the 503 handler answers
    return Health(status="ok", galleries=len(visible_names(state, who)))


@router.get("/metrics", tags=["service"], response_class=Response)
async def metrics(state: State) -> Response:
    """Counters and histograms in Prometheus' text format."""
    exposition = await asyncio.to_thread(state.metrics.exposition)  # gallery sizes: see there
    return Response(exposition, media_type="text/plain; version=0.0.4; charset=utf-8")
