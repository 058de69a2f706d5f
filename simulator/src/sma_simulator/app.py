"""The simulator's aiohttp application: every simulated platform's routes at the paths that make
the services' base URLs `http://HOST:PORT/helix` (Twitch API), `http://HOST:PORT` (Twitch auth,
token at `/oauth2/token`), `http://HOST:PORT/youtube/v3` (YouTube Data API) and
`http://HOST:PORT/xrpc` (Bluesky), `http://HOST:PORT/mastodon/{instance}` (each Mastodon
instance), plus the `/_sim` control routes.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from sma_common.clock import Clock, SystemClock
from sma_common.http_server import request_metrics_middleware
from sma_common.metrics import HttpMetrics, create_registry
from sma_simulator import __version__
from sma_simulator.context import SIM_CONTEXT, SimContext, record_requests
from sma_simulator.control import add_control_routes
from sma_simulator.faults import FaultBook
from sma_simulator.ledger import Ledger
from sma_simulator.metrics import SimulatorMetrics
from sma_simulator.platforms import SIMULATORS
from sma_simulator.settings import SimulatorSettings
from sma_simulator.state import SIMULATED_PLATFORMS, World


def create_app(
    settings: SimulatorSettings, clock: Clock | None = None, *, registry: CollectorRegistry | None = None
) -> web.Application:
    """A standalone simulator app (tests, embedding) with HTTP request metrics on `registry`.

    `sma_common.service.Service` registers the HTTP metrics on its registry itself, so a
    service mounts the simulator on `Service.app` with `install_simulator` instead.
    """
    registry = registry if registry is not None else create_registry("simulator", __version__)
    app = web.Application(middlewares=[request_metrics_middleware(HttpMetrics(registry))])
    install_simulator(app, settings, clock, registry=registry)
    return app


def install_simulator(
    app: web.Application,
    settings: SimulatorSettings,
    clock: Clock | None = None,
    *,
    registry: CollectorRegistry,
) -> SimContext:
    """Adds the simulator's state, middleware and routes to a not yet started `app`."""
    ctx = SimContext(
        settings=settings,
        clock=clock or SystemClock(),
        world=World(settings.simulator_seed, settings.simulator_accounts_per_platform),
        faults=FaultBook(),
        ledger=Ledger(tuple(p.value for p in SIMULATED_PLATFORMS), settings.simulator_ledger_size),
        metrics=SimulatorMetrics(registry),
    )
    app[SIM_CONTEXT] = ctx
    app.middlewares.append(record_requests)
    for factory in SIMULATORS.values():
        factory(ctx).add_routes(app)
    add_control_routes(app)
    app.on_shutdown.append(ctx.on_shutdown)
    return ctx
