"""What every request goes through: a deadline on its body, security headers, its metrics.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: that one costs a task per
request). The body deadline counts from the request's start: a client that
sends its upload a byte at a time is answered 408 and its connection closed,
instead of holding a worker's memory forever. The header deadline is the
server's (:mod:`~aesearch_utils.service.server`): the app never sees a
request whose headers have not arrived.

Every answer says ``nosniff``; every answer but FastAPI's own docs pages
(which load Swagger UI's scripts) carries a Content-Security-Policy that
allows no inline script and nothing from elsewhere: text that a user or a
folder name put in a gallery can never run in a visitor's browser.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aesearch_utils.service.metrics import ServiceMetrics

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
STARTED = "aesearch.started"
"""The scope key of the request's ``time.perf_counter()`` at its start."""


async def _within(waiting: Awaitable[Message], deadline: float) -> Message:
    """``await waiting``, or ``TimeoutError`` at the loop's time ``deadline``."""
    if hasattr(asyncio, "timeout_at"):  # Python 3.11: no task per call, as wait_for makes
        async with asyncio.timeout_at(deadline):
            return await waiting
    return await asyncio.wait_for(waiting, max(deadline - asyncio.get_running_loop().time(), 0))


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, body_timeout_s: float) -> None:
        self.app = app
        self.metrics = metrics
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = scope[STARTED] = time.perf_counter()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        body_done = False
        status = 500
        headers = [(b"x-content-type-options", b"nosniff")]
        if not scope["path"].startswith(DOCS_PATHS):
            headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:  # waiting for the client to leave, not for its body
                return await receive()
            try:
                message = await _within(receive(), deadline)
            except asyncio.TimeoutError:  # not the builtin before Python 3.11
                raise HTTPException(
                    408,
                    f"the request's body took longer than {self.body_timeout_s:g} s: "
                    "send it in one go",
                    headers={"connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
