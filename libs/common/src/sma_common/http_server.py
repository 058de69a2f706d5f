"""The health and metrics routes every service serves, and the request middleware they share.

Routes: `/health/live`, `/health/ready`, `/health/detailed`, `/livez`, `/readyz`, `/metrics`.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
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
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# Request ids made here: a random per-process prefix and a counter, 32 hex digits like a UUID's,
# unique across replicas without a system call per request.
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):020x}"


# A synchronous answer for some requests, given before any other middleware runs (the gateway's hot
# read path); None sends the request down the middlewares as usual.
FastPath = Callable[[web.Request], web.StreamResponse | None]


def request_metrics_middleware(
    metrics: HttpMetrics, fast_path: FastPath | None = None
) -> web.middleware:  # type: ignore[valid-type]
    """Sets the request id for the log context (echoed in `X-Request-ID`), offers the request to
    `fast_path`, and records each request by route template (`HttpMetrics`)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get(REQUEST_ID_HEADER, "")[:64] or new_request_id()
        REQUEST_ID.set(request_id)  # the request's own task: its context ends with it
        started = time.perf_counter()
        status = 500
        metrics.in_flight += 1
        try:
            response = fast_path(request) if fast_path is not None else None
            if response is None:
                response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.in_flight -= 1
            if request.path not in OPS_PATHS:
                metrics.observe(request.method, route_template(request), status, time.perf_counter() - started)

    return middleware
