"""Running the app: uvicorn with a deadline on each request's headers, in front or behind.

uvicorn closes a keep-alive connection that stays idle, but a client that
opens a connection and sends half of its headers, or nothing, holds it
forever: 500 such clients hold 500 sockets and their buffers. The protocol
here gives every request's headers ``header_timeout_s`` to arrive, counted
from the connection's first byte (or from the end of the previous answer),
and then closes the connection with one log line.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

log = logging.getLogger("aesearch.service")


def _deadline_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools where installed, else h11) with a header deadline."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            if self._between_requests():
                self._start_header_timer()
            super().data_received(data)
            if not self._between_requests():
                self._stop_header_timer()

        def connection_lost(self, exc) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _start_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

        def _stop_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self._between_requests() and not self.transport.is_closing():
                log.info("closed a connection whose request headers took over %g s",
                         header_timeout_s)  # fmt: skip
                self.transport.close()

    return HeaderDeadlineProtocol


def uvicorn_config(app: FastAPI, host: str, port: int, header_timeout_s: float, **options):
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, http=_deadline_protocol(header_timeout_s), **options
    )


def serve(app: FastAPI, host: str, port: int, header_timeout_s: float) -> None:
    """Serve ``app`` until interrupted."""
    import uvicorn

    # TensorFlow, Keras and the galleries leave millions of long-lived objects, which each of
    # Python's full collections would walk again, stopping every request meanwhile: move
    # them out of the collector's sight (the load benchmark's p99 shows such stalls)
    gc.collect()
    gc.freeze()

    uvicorn.Server(uvicorn_config(app, host, port, header_timeout_s, log_level="warning")).run()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving_in_background(app: FastAPI, header_timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on a free port of 127.0.0.1 (a notebook
    or a test talks to it over HTTP); yields its base URL, and stops it on leaving."""
    import uvicorn

    port = free_port()
    config = uvicorn_config(app, "127.0.0.1", port, header_timeout_s, log_level="warning")
    server = uvicorn.Server(config)
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
