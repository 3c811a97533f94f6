"""What one running service holds: its settings, galleries, tenants, batchers and metrics.

The galleries are the folders below the galleries folder that hold a
``gallery.json``, each served under its folder's name. A folder that is not a
gallery, or one whose files are damaged, is left out with one warning that
names it and says why; the others are served.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aesearch_utils.config import Settings
from aesearch_utils.errors import AesearchError
from aesearch_utils.service.batcher import QueryBatcher
from aesearch_utils.service.metrics import ServiceMetrics
from aesearch_utils.store.gallery import Gallery
from aesearch_utils.store.tenants import TenantRegistry

log = logging.getLogger("aesearch.service")


def open_galleries(settings: Settings) -> dict[str, Gallery]:
    """Every gallery folder below ``settings.galleries_dir``, opened, by folder name."""
    folder = settings.galleries_dir
    if not folder.is_dir():
        return {}
    galleries = {}
    for path in sorted(folder.iterdir()):
        if not path.is_dir() or path.name.startswith("."):  # files, unfinished builds
            continue
        if not (path / "gallery.json").is_file():
            log.warning("%s is not served: it has no gallery.json (not a gallery folder)", path)
            continue
        try:
            galleries[path.name] = Gallery.open(path, settings.vectors_uri or None)
        except AesearchError as error:
            log.warning("%s is not served: %s", path, error)
    return galleries


@dataclass
class ServiceState:
    settings: Settings
    galleries: dict[str, Gallery]
    tenants: TenantRegistry
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
        gallery = self.galleries.pop(name)
        batcher = self.batchers.pop(name, None)
        if batcher is not None:
            await batcher.close()
        await asyncio.to_thread(gallery.remove)

    def start(self) -> None:
        """Called as the app starts serving: an app served again after it stopped (a notebook
        serving it twice) reopens the tenants file that stopping closed."""
        if self.tenants.closed:
            self.tenants = TenantRegistry(self.tenants.path)

    async def close(self) -> None:
        """Called as the app stops serving: the galleries stay open (an app served again uses
        them) with their indexes saved, so that the next process opens them in seconds."""
        for batcher in self.batchers.values():
            await batcher.close()
        self.batchers.clear()  # a later start makes new ones
        for gallery in self.galleries.values():
            await asyncio.to_thread(gallery.checkpoint)
        self.tenants.close()
