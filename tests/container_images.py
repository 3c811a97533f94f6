"""Podman for the container test and benchmark: build the service's image (``make image``, the
command a user runs), start it on a loopback port, fill its volume, wait for it to answer, and
remove everything it started, whatever happens.

Every podman call is bounded in time. The images are built ``FROM`` :data:`BASE_IMAGE_VARIABLE`
when it is set (a machine that reaches no image registry makes a base from Debian's packages
with ``.ci/container-base``), else from the official slim Python image that a user's build pulls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE_VARIABLE = "AESEARCH_TEST_BASE_IMAGE"
DEFAULT_BASE_IMAGE = "python:3.11-slim-bookworm"
INSTALL_HINT = (
    "these tests need podman: sudo apt-get install podman runc (a machine whose cgroups crun "
    "refuses also needs the runtime set to runc: see .ci/containers.conf)"
)
MILVUS_TEST_IMAGE = "localhost/aesearch-test-milvus"
VOLUME_PATH = "/var/lib/aesearch"
"""The image's volume: its user's home, holding the galleries (see the Containerfile)."""


def base_image() -> str:
    return os.environ.get(BASE_IMAGE_VARIABLE) or DEFAULT_BASE_IMAGE


def podman(*arguments: str, timeout: float = 120, check: bool = True) -> str:
    """Run ``podman ARGUMENTS``; its output, or an error with what podman said."""
    result = subprocess.run(
        ["podman", *arguments], capture_output=True, text=True, timeout=timeout
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(arguments[:3])} ... failed ({result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )
    return result.stdout.strip()


def build_image(
    tag: str, containerfile: str = "Containerfile", context: str = ".", flags: str = ""
) -> float:
    """Build ``tag`` with ``make image`` from :func:`base_image` (``flags`` added to the build
    command); the seconds it took."""
    started = time.perf_counter()
    result = subprocess.run(
        ["make", "--no-print-directory", "image", f"IMAGE={tag}", f"BASE_IMAGE={base_image()}",
         f"CONTAINERFILE={containerfile}", f"CONTEXT={context}", f"BUILD_FLAGS={flags}"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(
            f"make image IMAGE={tag} failed from {base_image()} (set {BASE_IMAGE_VARIABLE} to a "
            f"local base where no registry is reachable: .ci/container-base makes one):\n"
            f"{(result.stdout + result.stderr)[-3000:]}"
        )
    return time.perf_counter() - started


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag))


def fill_volume(image: str, volume: str, galleries: Path) -> None:
    """Copy the galleries in ``galleries`` into ``volume``'s galleries folder, owned by the
    image's user, as an operator would with a one-off container."""
    podman(
        "run", "--rm", "--user", "root", "--entrypoint", "sh",
        "-v", f"{volume}:{VOLUME_PATH}", "-v", f"{galleries}:/galleries:ro", image,
        "-c", f"mkdir -p {VOLUME_PATH}/galleries && cp -R /galleries/. {VOLUME_PATH}/galleries/"
              f" && chown -R aesearch:aesearch {VOLUME_PATH}",
    )  # fmt: skip


def wait_until_answering(port: int, timeout: float, container: str = "") -> None:
    """Return once ``/api/health`` on 127.0.0.1:``port`` answers 200; an error with the
    container's last log lines when it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return
        except OSError:  # refused, reset, or an HTTP error status (HTTPError is an OSError)
            time.sleep(0.1)
    logs = podman("logs", "--tail", "30", container, check=False) if container else ""
    raise AssertionError(f"nothing answered on port {port} within {timeout:.0f} s\n{logs}")


def wait_until_healthy(container: str, timeout: float) -> None:
    """Run the container's own HEALTHCHECK until it passes: podman runs it on a schedule only
    where systemd runs, so the tests run it themselves."""
    deadline = time.monotonic() + timeout
    check = ["podman", "healthcheck", "run", container]
    while subprocess.run(check, capture_output=True, timeout=30).returncode != 0:
        if time.monotonic() > deadline:
            logs = podman("logs", "--tail", "30", container, check=False)
            raise AssertionError(f"{container} is not healthy after {timeout:.0f} s\n{logs}")
        time.sleep(1)


@contextmanager
def service_container(
    image: str, volume: str, port: int, environment: dict[str, str]
) -> Iterator[str]:
    """The service's image running detached as a container of its own, its port 8000 on
    127.0.0.1:``port``; the container's name. The container goes on leaving; the volume stays
    for the caller's :func:`removed_volume`."""
    name = f"aesearch-test-{uuid.uuid4().hex[:8]}"
    settings = [
        argument for key, value in environment.items() for argument in ("-e", f"{key}={value}")
    ]
    podman(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000",
        "-v", f"{volume}:{VOLUME_PATH}", *settings, image,
    )  # fmt: skip
    try:
        yield name
    finally:
        podman("rm", "-f", "-t", "10", name, check=False, timeout=60)


@contextmanager
def removed_volume() -> Iterator[str]:
    """A fresh volume's name, removed on leaving."""
    volume = f"aesearch-test-{uuid.uuid4().hex[:8]}"
    try:
        yield volume
    finally:
        podman("volume", "rm", "-f", volume, check=False)


def compose_command() -> list[str]:
    """podman-compose from this environment (the dev extra installs it)."""
    installed = Path(sys.executable).parent / "podman-compose"
    if installed.exists():
        return [str(installed)]
    found = shutil.which("podman-compose")
    if not found:
        raise AssertionError("podman-compose is missing: pip install -e '.[dev]' installs it")
    return [found]


class ComposeProject:
    """``compose.yaml`` with ``tests/containers/compose.test.yaml`` over it, as a project of its
    own with ``environment`` added to this process's; leaving it runs ``down -v``, which removes
    its containers, network and volumes."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.name = f"aesearch-test-{uuid.uuid4().hex[:8]}"
        self._command = [
            *compose_command(), "-p", self.name, "-f", str(ROOT / "compose.yaml"),
            "-f", str(ROOT / "tests/containers/compose.test.yaml"),
        ]  # fmt: skip
        self._environment = os.environ | environment

    def __call__(self, *arguments: str, timeout: float = 300) -> str:
        """``podman-compose ARGUMENTS`` in this project; its output."""
        result = subprocess.run(
            [*self._command, *arguments], env=self._environment, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(
                f"podman-compose {' '.join(arguments)} failed: {result.stderr.strip()[-2000:]}"
            )
        return result.stdout

    def container(self, service: str) -> str:
        return f"{self.name}_{service}_1"

    def volume(self, name: str) -> str:
        return f"{self.name}_{name}"

    def __enter__(self) -> ComposeProject:
        return self

    def __exit__(self, *exception) -> None:
        subprocess.run(
            [*self._command, "down", "-v", "-t", "10"], env=self._environment,
            capture_output=True, timeout=300,
        )  # fmt: skip
        # a volume filled before compose made it has none of compose's labels: down keeps it
        declared = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["volumes"]
        for volume in declared:
            podman("volume", "rm", "-f", self.volume(volume), check=False)
