"""The routes' dependencies, as ``Annotated`` aliases: the service, the caller, the gallery.

Who may do what:

- **No token exists** (no tenant has one, ``AESEARCH_WRITE_TOKEN`` unset; the
  CLI allows this only on 127.0.0.1): one user, who may do everything, as a
  laptop's service should.
- Otherwise a request is anonymous, or names a tenant by ``Authorization:
  Bearer <token>``. A ``public`` gallery may be searched and its images seen
  by anyone, and changed only by its owner; a ``private`` one is reached only
  with its owner's token.
- A private gallery that the caller may not reach is answered exactly as a
  gallery that does not exist (404, the same sentence): no one learns which
  names other tenants use. A malformed header, or a token that is unknown or
  revoked, is a 401 before any gallery is looked at.

The dependencies are ``async`` although they never wait: FastAPI runs a plain
``def`` dependency in its thread pool, and three thread hops per request cost
more than the checks themselves.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from aesearch_utils.errors import BackendUnavailableError
from aesearch_utils.service.errors import ServiceError
from aesearch_utils.service.state import ServiceState, WaitingGallery
from aesearch_utils.store.gallery import Gallery
from aesearch_utils.store.record import MAX_ID
from aesearch_utils.store.tenants import ADMIN

_BEARER = {"WWW-Authenticate": "Bearer"}


async def service_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(service_state)]


@dataclass(frozen=True)
class Caller:
    tenant: str | None
    """The token's tenant; ``None``: anonymous."""
    everything: bool = False
    """True when no token exists (the one-user service)."""

    def can_read(self, gallery: Gallery | WaitingGallery) -> bool:
        return self.everything or gallery.visibility == "public" or gallery.owner == self.tenant

    def can_write(self, gallery: Gallery) -> bool:
        return self.everything or gallery.owner == self.tenant


async def caller(
    state: State,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    if authorization is None:
        return Caller(None, everything=state.open_mode())
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token.strip():
        raise ServiceError(401, "malformed Authorization header: send 'Bearer <token>'", _BEARER)
    token = token.strip()
    write_token = state.settings.write_token
    if write_token and hmac.compare_digest(token.encode(), write_token.encode()):
        return Caller(ADMIN)
    tenant = state.tenants.tenant_of(token)
    if tenant is None:
        raise ServiceError(401, "the token is not valid: it is unknown or revoked", _BEARER)
    return Caller(tenant)


CurrentCaller = Annotated[Caller, Depends(caller)]


def visible_galleries(state: ServiceState, who: Caller) -> list[Gallery]:
    """The galleries ``who`` can search, in the order they are listed (not one that another
    process serving the same folder has deleted)."""
    return [gallery for gallery in state.listed() if who.can_read(gallery) and gallery.exists()]


def visible_names(state: ServiceState, who: Caller) -> list[str]:
    return [gallery.name for gallery in visible_galleries(state, who)]


async def readable_gallery(name: str, state: State, who: CurrentCaller) -> Gallery:
    gallery = state.galleries.get(name)
    if gallery is not None and not gallery.exists():
        await state.forget_gallery(name)
        gallery = None
    waiting = state.waiting.get(name)
    if waiting is not None and who.can_read(waiting):
        raise BackendUnavailableError(f"the gallery {name!r} waits for its vectors' server")
    if gallery is None or not who.can_read(gallery):
        known = ", ".join(visible_names(state, who)) or "none"
        raise ServiceError(404, f"unknown gallery {name!r}; galleries you can search: {known}")
    return gallery


ReadableGallery = Annotated[Gallery, Depends(readable_gallery)]


async def owned_gallery(gallery: ReadableGallery, who: CurrentCaller) -> Gallery:
    if who.can_write(gallery):
        return gallery
    if who.tenant is None:
        raise ServiceError(
            401, "changing a gallery needs its owner's token: 'Authorization: Bearer <token>'",
            _BEARER,
        )  # fmt: skip
    raise ServiceError(403, f"the gallery {gallery.name!r} belongs to another tenant")


OwnedGallery = Annotated[Gallery, Depends(owned_gallery)]

ImageId = Annotated[int, Path(ge=0, le=MAX_ID, description="an image's id in its gallery")]
