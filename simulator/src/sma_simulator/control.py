"""The simulator's own control surface under `/_sim`: scripted faults, the ledger of what was
served, and the list of simulated accounts. Never part of any real platform's API."""

from __future__ import annotations

from http import HTTPStatus

import structlog
from aiohttp import web
from pydantic import ValidationError

from sma_simulator.context import SIM_CONTEXT, SimContext
from sma_simulator.faults import FaultSpec
from sma_simulator.platforms.wire import json_response
from sma_simulator.state import SIMULATED_PLATFORMS

log = structlog.get_logger(__name__)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/accounts", accounts)
    app.router.add_get("/_sim/ledger", ledger)
    app.router.add_delete("/_sim/ledger", clear_ledger)
    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)


def _ctx(request: web.Request) -> SimContext:
    return request.app[SIM_CONTEXT]


def _problem(status: int, detail: str) -> web.Response:
    return json_response({"title": HTTPStatus(status).phrase, "status": status, "detail": detail}, status)


async def accounts(request: web.Request) -> web.Response:
    """`{"twitch": [{"id", "handle", "display_name"}, ...], "bluesky": [...]}`."""
    world = _ctx(request).world
    body = {
        platform.value: [{"id": a.id, "handle": a.handle, "display_name": a.display_name}
                         for a in world.accounts(platform)]
        for platform in SIMULATED_PLATFORMS
    }
    return json_response(body)


async def ledger(request: web.Request) -> web.Response:
    return json_response(_ctx(request).ledger.as_json(request.query.get("platform")))


async def clear_ledger(request: web.Request) -> web.Response:
    _ctx(request).ledger.clear()
    return web.Response(status=204)


async def list_faults(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return json_response([f.as_json() for f in ctx.faults.active(ctx.now())])


async def add_fault(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    try:
        spec = FaultSpec.model_validate_json(await request.read())
    except ValidationError as exc:
        return _problem(400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if spec.platform not in {p.value for p in SIMULATED_PLATFORMS}:
        return _problem(400, f"platform {spec.platform!r} is not simulated")
    try:
        fault = ctx.faults.add(spec, ctx.now())
    except ValueError as exc:
        return _problem(409, str(exc))
    log.info("simulator.fault_scripted", **fault.as_json())
    return json_response(fault.as_json(), 201)


async def clear_faults(request: web.Request) -> web.Response:
    cleared = _ctx(request).faults.clear(request.query.get("platform"))
    log.info("simulator.faults_cleared", platform=request.query.get("platform"), cleared=cleared)
    return json_response({"cleared": cleared})
