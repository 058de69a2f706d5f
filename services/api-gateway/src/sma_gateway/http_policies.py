"""Request policies every API response follows: problems for errors, conditional GETs (`ETag`,
`If-None-Match` → 304), CORS (off unless origins are configured) and the access log, in one
middleware; and a deadline per request (`RequestDeadlines`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sma_common.http_server import OPS_PATHS, FastAnswer, FastPath, route_template
from sma_gateway.auth import PRINCIPAL
from sma_gateway.problem import ProblemError, render_failure

access_log = structlog.get_logger("sma_gateway.access")

# Served to browsers only when CORS is on: what a client script may read and send.
_EXPOSED_HEADERS = "ETag, Link, Retry-After, X-Request-ID, X-Cache, RateLimit-Limit, RateLimit-Remaining, " \
    "RateLimit-Reset, RateLimit-Policy"
_ALLOWED_HEADERS = "Authorization, Content-Type, If-None-Match, X-Request-ID"
_ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
_PREFLIGHT_MAX_AGE = "600"
# What a 304 repeats of the 200 it stands for (RFC 9110 15.4.5), plus what clients read on every answer.
_KEPT_ON_304 = frozenset({"ETag", "Cache-Control", "Link", "X-Cache", "RateLimit-Limit", "RateLimit-Remaining",
                          "RateLimit-Reset", "RateLimit-Policy"})


def body_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; `*` matches any current representation.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def conditional(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Every successful GET gets an `ETag` (the handler's, when it already knows one, e.g. from the
    cache; else a hash of the body); a matching `If-None-Match` turns it into a bodyless 304."""
    if response.status != 200 or request.method not in ("GET", "HEAD") or not isinstance(response, web.Response):
        return response
    etag = response.headers.get("ETag")
    if etag is None:
        body = response.body
        if not isinstance(body, bytes):
            return response
        etag = body_etag(body)
        response.headers["ETag"] = etag
    # Clients may keep a copy but must revalidate: the data changes every collection.
    response.headers.setdefault("Cache-Control", "private, no-cache")
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _matches(if_none_match, etag):
        return web.Response(status=304, headers={
            name: response.headers[name] for name in _KEPT_ON_304 if name in response.headers})
    return response


class Cors:
    """CORS for the configured origins (`*` for any); with none configured, no CORS header is ever
    sent and browsers keep their same-origin rule."""

    def __init__(self, allowed_origins: Sequence[str]) -> None:
        self._any = "*" in allowed_origins
        self._origins = frozenset(allowed_origins)

    def _allowed(self, request: web.Request) -> dict[str, str] | None:
        origin = request.headers.get("Origin") if self._origins else None
        if origin is None or not (self._any or origin in self._origins):
            return None
        return {"Access-Control-Allow-Origin": "*" if self._any else origin, "Vary": "Origin"}

    def preflight(self, request: web.Request) -> web.Response | None:
        """The answer to a preflight from an allowed origin, else None."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        allowed = self._allowed(request)
        return None if allowed is None else web.Response(status=204, headers={
            **allowed, "Access-Control-Allow-Methods": _ALLOWED_METHODS,
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS, "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
        })

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        allowed = self._allowed(request)
        if allowed is not None and not response.prepared:
            response.headers.update(allowed)
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS


class ResponsePolicies:
    """What every API response follows, in this order: a CORS preflight is answered at once;
    otherwise errors become problems (`problem.render_failure`), a successful GET gets its `ETag`
    (or a 304), and allowed origins get the CORS headers. Then the access log line: method, path,
    route template, status, duration, response size and the key's public prefix; never a header,
    a query string or a body, so never a secret. The log is off when its level is above INFO
    (checked once: the check would cost more than the line).

    One middleware layer (a layer costs a coroutine per request) for the full path, and `fast`
    for a synchronous shortcut run before any layer (the hot read path): both end in `finish`."""

    def __init__(self, cors_allow_origins: Sequence[str]) -> None:
        self._cors = Cors(cors_allow_origins)
        self._log_enabled = logging.getLogger("sma_gateway.access").isEnabledFor(logging.INFO)

    def finish(
        self, request: web.Request, response: web.StreamResponse, started: float, route: str | None = None
    ) -> web.StreamResponse:
        """`route`: the route template, for a response given before routing (a fast answer)."""
        response = conditional(request, response)
        self._cors.decorate(request, response)
        self._log(request, response, started, route)
        return response

    def _log(
        self, request: web.Request, response: web.StreamResponse, started: float, route: str | None = None
    ) -> None:
        if self._log_enabled and request.path not in OPS_PATHS:
            principal = request.get(PRINCIPAL)
            access_log.info(
                "http.access", method=request.method, path=request.path, route=route or route_template(request),
                status=response.status, duration_ms=round((time.perf_counter() - started) * 1000, 2),
                bytes=response.content_length, key=principal.prefix if principal else None,
            )

    def fast(self, shortcut: FastPath) -> FastPath:
        """`shortcut`'s answers, finished like any other response."""

        def answer(request: web.Request) -> FastAnswer | None:
            started = time.perf_counter()
            answered = shortcut(request)
            if answered is None:
                return None
            return answered._replace(response=self.finish(request, answered.response, started, answered.route))

        return answer

    def middleware(self) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            preflight = self._cors.preflight(request)
            if preflight is not None:
                self._log(request, preflight, started)
                return preflight
            try:
                response = await handler(request)
            except Exception as exc:
                response = render_failure(request, exc)
            return self.finish(request, response, started)

        return middleware


class RequestDeadlines:
    """No request runs longer than `seconds`: past it the client gets a 504 problem, not a hang.

    One periodic sweep over the requests in flight cancels the overdue ones, instead of a timer
    per request (`asyncio.timeout` schedules and cancels a loop callback each time, which costs
    more than a cached read's own work). A deadline is kept within one sweep interval."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sweep_seconds = min(0.5, seconds / 10)
        self._running: dict[asyncio.Task[object], float] = {}  # task -> monotonic deadline
        self._expired: set[asyncio.Task[object]] = set()

    def sweep(self, now: float) -> None:
        for task, deadline in list(self._running.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()

    async def run(self, stopping: asyncio.Event) -> None:
        """The sweep, as a service loop."""
        while not stopping.is_set():
            await asyncio.sleep(self.sweep_seconds)
            self.sweep(time.monotonic())

    def middleware(self) -> Middleware:
        running, expired, seconds = self._running, self._expired, self.seconds

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            task = asyncio.current_task()
            assert task is not None  # aiohttp runs each request in its own task
            running[task] = time.monotonic() + seconds
            try:
                return await handler(request)
            except asyncio.CancelledError:
                # Ours only if the sweep cancelled it and nothing else did (a disconnect, a shutdown).
                if task not in expired or task.uncancel() > 0:
                    raise
                raise ProblemError(504, f"The request did not finish within {seconds:g} s.",
                                   kind="timeout") from None
            finally:
                del running[task]
                expired.discard(task)

        return middleware
