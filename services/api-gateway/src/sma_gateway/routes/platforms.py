"""/api/platforms: every platform SMA knows, whether this deployment can track it, and the state
of its shared rate budget (what is left, holds after a 429, a spent quota or bad credentials)."""

from __future__ import annotations

from aiohttp import web

from sma_common.platforms import Platform
from sma_gateway import state
from sma_gateway.openapi import operation
from sma_gateway.responses import list_response
from sma_gateway.schemas import PlatformOut


@operation("Every platform: whether it is configured, and its shared rate budget",
           response=list[PlatformOut], csv=True)
async def list_platforms(request: web.Request) -> web.Response:
    budgets = request.app[state.BUDGETS]
    return list_response(request, PlatformOut, [await budgets.platform(p) for p in Platform])


def routes() -> list[web.RouteDef]:
    return [web.get("/api/platforms", list_platforms)]
