"""Request policies every API response follows: the access log, conditional GETs (`ETag`,
`If-None-Match` → 304), a deadline per request, and CORS (off unless origins are configured)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sma_common.http_server import OPS_PATHS, route_template
from sma_gateway.auth import PRINCIPAL
from sma_gateway.problem import ProblemError

access_log = structlog.get_logger("sma_gateway.access")

# Served to browsers only when CORS is on: what a client script may read and send.
_EXPOSED_HEADERS = "ETag, Link, Retry-After, X-Request-ID, X-Cache, RateLimit-Limit, RateLimit-Remaining, " \
    "RateLimit-Reset, RateLimit-Policy"
_ALLOWED_HEADERS = "Authorization, Content-Type, If-None-Match, X-Request-ID"
_ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
_PREFLIGHT_MAX_AGE = "600"


def body_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; `*` matches any current representation.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def access_log_middleware() -> Middleware:
    """One line per API request: method, path, route template, status, duration, response size and
    the key's public prefix. Never a header, a query string or a body, so never a secret. Off
    when the log level is above INFO (checked once: the check would cost more than the line)."""
    enabled = logging.getLogger("sma_gateway.access").isEnabledFor(logging.INFO)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not enabled or request.path in OPS_PATHS:
            return await handler(request)
        started = time.perf_counter()
        response = await handler(request)
        principal = request.get(PRINCIPAL)
        access_log.info(
            "http.access", method=request.method, path=request.path, route=route_template(request),
            status=response.status, duration_ms=round((time.perf_counter() - started) * 1000, 2),
            bytes=response.content_length, key=principal.prefix if principal else None,
        )
        return response

    return middleware


def conditional_middleware() -> Middleware:
    """Every successful GET gets an `ETag` (the handler's, when it already knows one, e.g. from the
    cache; else a hash of the body); a matching `If-None-Match` turns it into a bodyless 304."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method not in ("GET", "HEAD") or response.status != 200 or not isinstance(response, web.Response):
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
            kept = {name: response.headers[name] for name in ("ETag", "Cache-Control", "Link", "X-Cache")
                    if name in response.headers}
            return web.Response(status=304, headers=kept)
        return response

    return middleware


def deadline_middleware(seconds: float) -> Middleware:
    """No request runs longer than `seconds`: past it the client gets a 504 problem, not a hang."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            async with asyncio.timeout(seconds) as deadline:
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise  # a dependency's own timeout: the problem middleware maps it
            raise ProblemError(504, f"The request did not finish within {seconds:g} s.",
                               kind="timeout") from None

    return middleware


def cors_middleware(allowed_origins: Sequence[str]) -> Middleware:
    """CORS for the configured origins (`*` for any); with none configured, no CORS header is ever
    sent and browsers keep their same-origin rule."""
    any_origin = "*" in allowed_origins
    origins = frozenset(allowed_origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origins or origin is None or not (any_origin or origin in origins):
            return await handler(request)
        cors = {"Access-Control-Allow-Origin": "*" if any_origin else origin, "Vary": "Origin"}
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(status=204, headers={
                **cors, "Access-Control-Allow-Methods": _ALLOWED_METHODS,
                "Access-Control-Allow-Headers": _ALLOWED_HEADERS, "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
            })
        response = await handler(request)  # errors arrive here already rendered as problems
        if not response.prepared:
            response.headers.update(cors)
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
        return response

    return middleware
