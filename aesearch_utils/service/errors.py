"""One error shape for every status: ``{"error": "what was wrong, and what to do"}``.

FastAPI and Starlette answer some errors themselves (a route that does not
exist, a method it does not take, a request that fails validation) with
``{"detail": ...}``, and an unexpected exception with plain text: the handlers
here give each of them the service's shape. A server the service relies on that does not
answer (Milvus) is a 503 with ``Retry-After``, never a hang or a 500. A client that goes away while
sending its upload is one log line, not a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from aesearch_utils.errors import (
    AesearchError,
    BackendUnavailableError,
    CorruptDataError,
    EmptyGalleryError,
)

log = logging.getLogger("aesearch.service")

RETRY_AFTER_S = 5
"""What a 503 (a vectors server that is down) tells a client to wait before retrying."""


class ServiceError(Exception):
    """An answer other than success: its HTTP status and the sentence the client reads."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return error_response(error.status, str(error), error.headers)

    @app.exception_handler(CorruptDataError)
    async def corrupt_data(request: Request, error: CorruptDataError) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, error)
        return error_response(500, f"the server's data is damaged: {error}")

    @app.exception_handler(BackendUnavailableError)
    async def backend_down(request: Request, error: BackendUnavailableError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, error)  # with its address
        return error_response(
            503,
            f"the vectors server (Milvus) does not answer: it is down or still starting; retry in "
            f"{RETRY_AFTER_S} s",
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(EmptyGalleryError)
    async def empty_gallery(request: Request, error: EmptyGalleryError) -> JSONResponse:
        return error_response(409, str(error))

    @app.exception_handler(AesearchError)
    async def project_error(request: Request, error: AesearchError) -> JSONResponse:
        return error_response(400, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}"
            for problem in error.errors()
        ]
        return error_response(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if isinstance(error.__cause__, ClientDisconnect):  # FastAPI's form reader wraps it
            return await client_left(request, error.__cause__)
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404:
            message = f"no route {request.url.path!r}: /docs lists them"
        return error_response(error.status_code, message, error.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_left(request: Request, error: ClientDisconnect) -> JSONResponse:
        log.info("%s %s: the client left before sending its whole request", request.method,
                 request.url.path)  # fmt: skip
        return error_response(400, "the request ended before its body did")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Starlette's outermost middleware logs the traceback after this answer
        return error_response(500, "the server failed on this request; its log says why")
