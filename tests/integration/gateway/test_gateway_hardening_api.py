"""Request policies on the running gateway: CORS off by default and exact when configured, a
deadline on every request, the request id echoed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from sma_gateway.app import build
from tests.integration.gateway.harness import Gateway, RunService, create_api_key, gateway_settings

ORIGIN = "https://dashboards.example"


@pytest.fixture
async def configured_gateway(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    """CORS for one origin, a 0.3 s deadline, and one slow route to run into it."""
    settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix,
                                cors_allow_origins=[ORIGIN], request_timeout_seconds=0.3)
    service = build(settings)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    service.app.router.add_get("/api/slow-for-test", slow)
    async with run_service(service) as url, aiohttp.ClientSession() as http:
        yield Gateway(url, http, service, tokens={"read": await create_api_key(db, ["read"])})


async def test_cors_is_off_by_default(gateway: Gateway) -> None:
    reply = await gateway.call("GET", "/api/jobs", headers={"Origin": ORIGIN})
    assert reply.status == 200 and "Access-Control-Allow-Origin" not in reply.headers
    preflight = await gateway.call("OPTIONS", "/api/jobs", scope=None, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_allows_exactly_the_configured_origins(configured_gateway: Gateway) -> None:
    gateway = configured_gateway
    preflight = await gateway.call("OPTIONS", "/api/jobs", scope=None, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    reply = await gateway.call("GET", "/api/jobs", scope="read", headers={"Origin": ORIGIN})
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN and reply.headers["Vary"] == "Origin"
    assert "ETag" in reply.headers["Access-Control-Expose-Headers"]
    denied = await gateway.call("GET", "/api/jobs", scope=None, headers={"Origin": "https://evil.example"})
    assert denied.status == 401 and "Access-Control-Allow-Origin" not in denied.headers
    # Errors carry the CORS headers too, so a browser client can read the problem.
    unauthorized = await gateway.call("GET", "/api/jobs", scope=None, headers={"Origin": ORIGIN})
    assert unauthorized.status == 401 and unauthorized.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_a_request_past_its_deadline_gets_a_504_problem(configured_gateway: Gateway) -> None:
    started = asyncio.get_running_loop().time()
    reply = await configured_gateway.call("GET", "/api/slow-for-test", scope="read")
    assert asyncio.get_running_loop().time() - started < 2
    assert reply.status == 504 and reply.content_type == "application/problem+json"
    assert reply.json()["type"] == "urn:sma:problem:timeout"


async def test_the_request_id_is_echoed_or_made(gateway: Gateway) -> None:
    echoed = await gateway.call("GET", "/api/jobs", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["X-Request-ID"] == "trace-123"
    made = await gateway.call("GET", "/api/nowhere")
    assert made.status == 404 and len(made.headers["X-Request-ID"]) == 32
    assert made.json()["request_id"] == made.headers["X-Request-ID"]


@pytest.fixture
def access_log_at_info() -> Iterator[None]:
    """The access log is on when its logger is at INFO (as `configure_logging` sets it in a
    service); tests leave the stdlib root at WARNING, so turn it on before the gateway is built."""
    access = logging.getLogger("sma_gateway.access")
    level = access.level
    access.setLevel(logging.INFO)
    yield
    access.setLevel(level)


async def test_the_access_log_has_one_line_per_request_and_no_secret(
    access_log_at_info: None, gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    token = gateway.tokens["read"]
    await gateway.call("GET", "/api/jobs?platform=twitch", scope="read")
    await gateway.call("GET", "/api/jobs", scope=None, headers={"Authorization": f"Bearer {token[:-2]}xx"})
    await gateway.call("GET", "/health/ready", scope=None)
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "http.access" in line]
    assert len(lines) == 2, lines  # the ops route is not logged
    assert "route=/api/jobs" in lines[0] and "status=200" in lines[0] and f"key={token.split('_')[1]}" in lines[0]
    assert "status=401" in lines[1]
    secret = token.split("_", 2)[2]
    assert not [line for line in lines if secret in line or secret[:-2] in line or "platform=twitch" in line]
