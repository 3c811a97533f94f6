"""Who the caller is: the token's tenant and the galleries it can search.

Tenants and tokens are made and revoked with the CLI (``aesearch tenant add``,
``aesearch token add``, ``aesearch token revoke``), on the machine that holds
the galleries: no route creates a token.
"""

from __future__ import annotations

from fastapi import APIRouter

from aesearch_utils.service.deps import CurrentCaller, State, visible_galleries
from aesearch_utils.service.routers.galleries import described
from aesearch_utils.service.schemas import TenantAnswer

router = APIRouter(prefix="/api/tenant", tags=["tenants"])


@router.get("", responses={401: {}})
async def current_tenant(state: State, who: CurrentCaller) -> TenantAnswer:
    return TenantAnswer(
        tenant=who.tenant,
        galleries=await described(visible_galleries(state, who)),
    )
