"""What every simulated platform shares: settings, clock, world, faults, ledger and metrics,
plus the route table that labels each request with its platform and endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from sma_common.clock import Clock
from sma_simulator.faults import Fault, FaultBook
from sma_simulator.ledger import Ledger
from sma_simulator.metrics import SimulatorMetrics
from sma_simulator.settings import SimulatorSettings
from sma_simulator.state import World


@dataclass
class SimContext:
    settings: SimulatorSettings
    clock: Clock
    world: World
    faults: FaultBook
    ledger: Ledger
    metrics: SimulatorMetrics
    # Set when the server shuts down, so responses held by `timeout` faults end at once.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Route path → (platform, endpoint): the labels of the requests it serves.
    endpoints: dict[str, tuple[str, str]] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def add_route(
        self, app: web.Application, method: str, path: str, platform: str, endpoint: str, handler: Handler
    ) -> None:
        app.router.add_route(method, path, handler)
        self.endpoints[path] = (platform, endpoint)

    async def take_fault(self, platform: str, endpoint: str) -> Fault | None:
        """The scripted fault for this request. A `timeout` fault is served here by holding the
        response (until the delay passes or the server stops) before the request carries on."""
        fault = self.faults.take(platform, endpoint, self.now())
        if fault is None:
            return None
        self.metrics.record_fault(platform, fault.spec.kind)
        if fault.spec.kind == "timeout":
            await self.hold(fault.spec.delay_seconds or self.settings.simulator_timeout_hold_seconds)
        return fault

    async def hold(self, seconds: float) -> None:
        """Waits `seconds` of wall time (not the injected clock, which runs the simulated world),
        or until the server stops, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def on_shutdown(self, _app: web.Application) -> None:
        self.stopping.set()


SIM_CONTEXT = web.AppKey("sma_simulator_context", SimContext)


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts every platform request in the ledger and in `sma_simulator_requests_total`, and holds
    it for `simulator_latency_ms` first. Control, health and metrics routes are not platform
    requests: they are neither counted nor delayed."""
    ctx = request.app[SIM_CONTEXT]
    resource = request.match_info.route.resource
    labels = ctx.endpoints.get(resource.canonical) if resource is not None else None
    if labels is None:
        return await handler(request)
    ctx.ledger.count_request(*labels)
    status = 500
    try:
        if latency_ms := ctx.settings.simulator_latency_ms:
            await ctx.hold(latency_ms / 1000)
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ctx.metrics.record_request(*labels, status)
