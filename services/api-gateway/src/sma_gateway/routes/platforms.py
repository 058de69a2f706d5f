"""/api/platforms: every platform SMA knows, and whether this deployment can track it."""

from __future__ import annotations

from aiohttp import web

from sma_common.platforms import Platform
from sma_gateway import state
from sma_gateway.adapters import is_configured
from sma_gateway.responses import list_response
from sma_gateway.schemas import PlatformOut


async def list_platforms(request: web.Request) -> web.Response:
    adapters = request.app[state.ADAPTERS]
    return list_response([PlatformOut(platform=p, configured=is_configured(adapters, p)) for p in Platform])


def routes() -> list[web.RouteDef]:
    return [web.get("/api/platforms", list_platforms)]
