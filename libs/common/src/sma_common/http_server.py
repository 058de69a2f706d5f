"""The health and metrics routes every service serves, and the request middleware they share.

Routes: `/health/live`, `/health/ready`, `/health/detailed`, `/livez`, `/readyz`, `/metrics`.
"""

from __future__ import annotations

import functools
import itertools
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Gauge

from sma_common.logging import REQUEST_ID
from sma_common.metrics import HttpMetrics, make_aiohttp_handler

REQUEST_ID_HEADER = "X-Request-ID"
OPS_PATHS = frozenset({"/health/live", "/health/ready", "/health/detailed", "/livez", "/readyz", "/metrics"})


class OpsState(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def instance(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def started_monotonic(self) -> float: ...
    @property
    def registry(self) -> CollectorRegistry: ...

    async def readiness(self) -> tuple[str, dict[str, object]]: ...

    def details(self) -> dict[str, object]: ...


def json_response(body: object, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=content_type)


def add_ops_routes(app: web.Application, service: OpsState) -> None:
    async def live(_: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def ready(_: web.Request) -> web.Response:
        status, checks = await service.readiness()
        return json_response({"status": status, "checks": checks}, 503 if status == "fail" else 200)

    async def detailed(_: web.Request) -> web.Response:
        status, checks = await service.readiness()
        body = {
            "service": service.name,
            "version": service.version,
            "instance": service.instance,
            "state": service.state,
            "status": status,
            "uptime_seconds": round(time.monotonic() - service.started_monotonic, 3),
            "checks": checks,
            **service.details(),
        }
        return json_response(body, 503 if status == "fail" else 200)

    render_metrics = make_aiohttp_handler(service.registry)
    check_ok = Gauge("sma_health_check_ok", "1 when the health check passed at the last scrape, else 0.", ["check"],
                     registry=service.registry)

    async def metrics(request: web.Request) -> web.StreamResponse:
        # The checks run on each scrape (a SELECT 1, a PING), so an unreachable database or Redis
        # shows in Prometheus even when nothing probes the health routes.
        _, checks = await service.readiness()
        for name, result in checks.items():
            ok = isinstance(result, dict) and result.get("status") == "ok"
            check_ok.labels(name).set(1 if ok else 0)
        return await render_metrics(request)

    for path, handler in (
        ("/health/live", live), ("/livez", live), ("/health/ready", ready), ("/readyz", ready),
        ("/health/detailed", detailed), ("/metrics", metrics),
    ):
        app.router.add_get(path, handler)


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/jobs/{id}`), never the raw path (bounded labels)."""
    try:
        resource = request.match_info.route.resource
    except AssertionError:  # aiohttp's answer for a request it has not routed (routing failed)
        return "unmatched"
    return resource.canonical if resource is not None else "unmatched"


# Request ids made here: a random per-process prefix and a counter, 32 hex digits like a UUID's,
# unique across replicas without a system call per request.
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):020x}"


class FastAnswer(NamedTuple):
    response: web.StreamResponse
    route: str  # the template of the route that would have served it, for metrics and logs


# A synchronous answer for some requests, given before routing and before any middleware (the
# gateway's hot read path); None sends the request down the routed path as usual.
FastPath = Callable[[web.Request], FastAnswer | None]


def request_metrics_middleware(metrics: HttpMetrics, fast_path: FastPath | None = None) -> Middleware:
    """The first step of every request: sets the request id for the log context (echoed in
    `X-Request-ID`), offers the request to `fast_path`, and records each request by route
    template (`HttpMetrics`).

    `Service` runs it in front of the application (`front_handler`), so a fast answer costs no
    routing and no middleware layer; an application served otherwise (a test server) takes it as
    its outermost middleware."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get(REQUEST_ID_HEADER, "")[:64] or new_request_id()
        REQUEST_ID.set(request_id)  # the request's own task: its context ends with it
        started = time.perf_counter()
        status = 500
        route = None
        metrics.in_flight += 1
        try:
            answer = fast_path(request) if fast_path is not None else None
            if answer is None:
                response = await handler(request)
            else:
                response, route = answer
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.in_flight -= 1
            route = route or route_template(request)
            if route not in OPS_PATHS:  # an ops route's template is its path
                metrics.observe(request.method, route, status, time.perf_counter() - started)

    return middleware


def front_handler(runner: web.AppRunner, first_step: Middleware) -> None:
    """Runs `first_step` (`request_metrics_middleware`) in front of `runner`'s application, before
    routing (call after `runner.setup()`, before a site starts): each middleware layer and the
    routing cost a cached read more than its own work, and a fast answer needs neither."""
    server = runner.server
    assert server is not None, "front_handler needs a runner that is set up"
    server.request_handler = functools.partial(first_step, handler=server.request_handler)
