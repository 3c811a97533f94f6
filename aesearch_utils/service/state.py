"""What one running service holds: its settings, galleries, tenants, batchers and metrics.

The galleries are the folders below the galleries folder that hold a
``gallery.json``, each served under its folder's name. A folder that is not a
gallery, or one whose files are damaged, is left out with one warning that
names it and says why; the others are served. A gallery whose vectors' server
(Milvus) does not answer when the service starts waits: its searches and
``/api/health`` answer 503, and it is opened again every :data:`RETRY_S`
seconds until the server is back (a service started before its database
serves by itself once the database is up).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aesearch_utils.config import Settings
from aesearch_utils.errors import AesearchError, BackendUnavailableError
from aesearch_utils.service.batcher import QueryBatcher
from aesearch_utils.service.metrics import ServiceMetrics
from aesearch_utils.store.gallery import Gallery
from aesearch_utils.store.tenants import ADMIN, TenantRegistry

log = logging.getLogger("aesearch.service")
RETRY_S = 5.0
"""How often a gallery that waits for its vectors' server is opened again."""


@dataclass(frozen=True)
class WaitingGallery:
    """A gallery that could not open because its vectors' server does not answer."""

    path: Path
    owner: str
    visibility: str
    """From its ``gallery.json``: who may learn that it waits."""

    @classmethod
    def of(cls, path: Path) -> WaitingGallery:
        description = json.loads((path / "gallery.json").read_text(encoding="utf-8"))
        return cls(path, description.get("owner", ADMIN), description.get("visibility", "public"))


def open_galleries(settings: Settings) -> tuple[dict[str, Gallery], dict[str, WaitingGallery]]:
    """Every gallery folder below ``settings.galleries_dir``, by folder name: those opened, and
    those that wait for their vectors' server."""
    folder = settings.galleries_dir
    if not folder.is_dir():
        return {}, {}
    galleries, waiting = {}, {}
    for path in sorted(folder.iterdir()):
        if not path.is_dir() or path.name.startswith("."):  # files, unfinished builds
            continue
        if not (path / "gallery.json").is_file():
            log.warning("%s is not served: it has no gallery.json (not a gallery folder)", path)
            continue
        try:
            galleries[path.name] = Gallery.open(path, settings.vectors_uri or None)
        except BackendUnavailableError as error:
            log.warning("%s waits for its vectors' server (tried again every %g s): %s",
                        path, RETRY_S, error)  # fmt: skip
            waiting[path.name] = WaitingGallery.of(path)
        except AesearchError as error:
            log.warning("%s is not served: %s", path, error)
    return galleries, waiting


@dataclass
class ServiceState:
    settings: Settings
    galleries: dict[str, Gallery]
    tenants: TenantRegistry
    waiting: dict[str, WaitingGallery] = field(default_factory=dict)
    """Galleries whose vectors' server did not answer yet (see the module)."""
    metrics: ServiceMetrics = field(init=False)
    batchers: dict[str, QueryBatcher] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(
            lambda: [
                (name, len(gallery))
                for name, gallery in list(self.galleries.items())
                if gallery.visibility == "public"
            ]
        )

    def listed(self) -> list[Gallery]:
        """The galleries, the default one first (the page selects it), then by name."""
        return sorted(
            self.galleries.values(),
            key=lambda gallery: (gallery.name != self.settings.default_gallery, gallery.name),
        )

    def open_mode(self) -> bool:
        """No token exists: one user, on 127.0.0.1, who may do everything (the CLI's check)."""
        return not self.settings.write_token and not self.tenants.has_active_tokens()

    def batcher(self, name: str) -> QueryBatcher:
        if name not in self.batchers:
            self.batchers[name] = QueryBatcher(self.galleries[name], self.metrics)
        return self.batchers[name]

    async def remove_gallery(self, name: str) -> None:
        """Stop serving the gallery and delete it (its searches in flight finish first)."""
        await asyncio.to_thread((await self._stop_serving(name)).remove)

    async def forget_gallery(self, name: str) -> None:
        """Stop serving a gallery whose folder is gone: another process that serves the same
        galleries folder deleted it."""
        if name not in self.galleries:  # a request just before this one forgot it
            return
        gallery = await self._stop_serving(name)
        await asyncio.to_thread(gallery.close, save=False)
        log.info("%s is no longer served: another process deleted it", gallery.path)

    async def _stop_serving(self, name: str) -> Gallery:
        gallery = self.galleries.pop(name)
        batcher = self.batchers.pop(name, None)
        if batcher is not None:
            await batcher.close()
        return gallery

    def start(self) -> None:
        """Called as the app starts serving: an app served again after it stopped (a notebook
        serving it twice) reopens the tenants file that stopping closed."""
        if self.tenants.closed:
            self.tenants = TenantRegistry(self.tenants.path)

    async def open_waiting_galleries(self) -> None:
        """Open the waiting galleries again every :data:`RETRY_S` s until none waits (the app
        runs it while it serves)."""
        while self.waiting:
            await asyncio.sleep(RETRY_S)
            for name, waiting in list(self.waiting.items()):
                try:
                    gallery = await asyncio.to_thread(
                        Gallery.open, waiting.path, self.settings.vectors_uri or None
                    )
                except BackendUnavailableError:
                    continue
                except AesearchError as error:
                    log.warning("%s is not served: %s", waiting.path, error)
                else:
                    self.galleries[name] = gallery
                    log.info("%s is served: its vectors' server answers again", waiting.path)
                del self.waiting[name]

    async def close(self) -> None:
        """Called as the app stops serving: the galleries stay open (an app served again uses
        them) with their indexes saved, so that the next process opens them in seconds."""
        for batcher in self.batchers.values():
            await batcher.close()
        self.batchers.clear()  # a later start makes new ones
        for gallery in self.galleries.values():
            await asyncio.to_thread(gallery.checkpoint)
        self.tenants.close()
