"""One ``APIRouter`` per resource: pages (the page, health, metrics), galleries, search,
images, tenants. :func:`aesearch_utils.service.app.create_app` includes them all."""

from aesearch_utils.service.routers import galleries, images, pages, search, tenants

ROUTERS = tuple(module.router for module in (pages, galleries, search, images, tenants))
