"""A real Milvus server for the tests: the standalone binary that PyPI's ``milvus`` (2.3.5,
"embedded Milvus") ships, started on free ports of 127.0.0.1 in a temporary folder.

It starts from a copy of the package's config template changed in four ways: every component's
``ip:`` is 127.0.0.1 (by default they advertise the machine's first non-loopback address); the
embedded etcd gets free ports (its defaults are fixed, so a second server could not start); the
time tick is shorter (:data:`TICK_MS`); and the components' sessions expire sooner
(:data:`SESSION_TTL_S`, so a killed server restarts in seconds). Stopping is bounded: SIGTERM,
one second, then SIGKILL (the package's ``stop`` does exactly that). A test process killed
before its teardown leaves the server running: ``pkill -f 'milvus run standalone'``.

Note: Milvus 2.3.5 listens on all interfaces for the ports it advertises on loopback (its
config has no listen address); a test machine without a firewall exposes them while it runs.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aesearch_utils.service.server import free_port

TICK_MS = 20
"""How often the proxy advances time (the package's default: 200 ms). A read that must see a
write waits for the next tick, so the tests' thousands of rounds wait ten times less; the
consistency rules they check are the same at any tick."""

DEFAULT_TICK_MS = 200
"""The package's own time tick, which the benchmarks keep."""

SESSION_TTL_S = 5
"""How long the components' registrations outlive them (the package's default: 30 s)."""


def _bind_reusing(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock


class MilvusTestServer:
    """The server with its data in ``folder`` on a free port: :meth:`start`, :meth:`kill` (as a
    crash would: SIGKILL), :meth:`start` again (same port, same data), :meth:`stop`."""

    def __init__(self, folder: Path, tick_ms: int = TICK_MS) -> None:
        import milvus

        package_data = Path(milvus.__file__).parent / "data"
        template = (package_data / "config.yaml.template").read_text(encoding="utf-8")
        folder.mkdir(parents=True, exist_ok=True)
        template = re.sub(r"(?m)^(\s*)ip:.*$", r"\1ip: 127.0.0.1", template)
        template = re.sub(
            r"(?m)^(\s*)timeTickInterval: 200\b", rf"\g<1>timeTickInterval: {tick_ms}", template
        )
        # its embedded etcd listens on fixed ports (2379, 2380) unless given a config of its own:
        # free ones let two servers run at once (this session's and a test's own)
        client, peer = free_port(), free_port()
        (folder / "etcd.yaml").write_text(
            f"listen-client-urls: http://127.0.0.1:{client}\n"
            f"advertise-client-urls: http://127.0.0.1:{client}\n"
            f"listen-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{peer}\n",
            "utf-8",
        )
        template = template.replace(
            "endpoints: localhost:{{ etcd_port(int): 2379 }}",
            f"endpoints: 127.0.0.1:{client}\n  config:\n    path: {folder / 'etcd.yaml'}",
        )
        # a restarted server waits for its dead predecessor's sessions to expire (58 s measured)
        template = re.sub(r"(?m)^(\s*)ttl: 30\b", rf"\g<1>ttl: {SESSION_TTL_S}", template)
        (folder / "config.yaml.template").write_text(template, "utf-8")
        settings = milvus.MilvusServerConfig(template=str(folder / "config.yaml.template"))
        settings.glog_conf_file = str(package_data / "glog.conf")  # set only for the default
        self._server = milvus.MilvusServer(settings, wait_for_started=True)
        self._server.set_base_dir(str(folder / "data"))
        port = free_port()
        # the same port on every start: fixed in the config (else the package takes the next
        # free one), its check of the port made able to bind while a killed server's
        # connections linger in TIME_WAIT (Milvus itself binds with SO_REUSEADDR)
        settings.configs["proxy_port"] = port
        settings.try_bind_port = _bind_reusing
        self.uri = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self._server.start()

    @property
    def pid(self) -> int:
        return self._server.server_proc.pid

    def kill(self) -> None:
        self._server.server_proc.kill()
        self._server.server_proc.wait(10)
        self._server.stop()  # closes its log files

    def stop(self) -> None:
        self._server.stop()  # SIGTERM, one second, then SIGKILL


@contextmanager
def milvus_server(uri: str, folder: Path, tick_ms: int = TICK_MS) -> Iterator[tuple[str, int]]:
    """``(uri, pid)``: the server at ``uri`` when one is given (pid 0: its memory is not ours to
    read), else one started here with its data in ``folder``, stopped on leaving."""
    if uri:
        yield uri, 0
        return
    server = MilvusTestServer(folder, tick_ms=tick_ms)
    server.start()
    try:
        yield server.uri, server.pid
    finally:
        server.stop()
