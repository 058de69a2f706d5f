"""Gateway fixtures: the service built by `sma_gateway.app.build()` against this test's own database
and Redis (or a Redis that is down), with API keys per scope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from sma_devstack import free_port
from sma_gateway.app import build
from sma_gateway.settings import GatewaySettings
from tests.integration.gateway.harness import (
    Gateway,
    RunService,
    Seeder,
    create_api_key,
    gateway_settings,
    subscribed,
    until,
)


async def _started(settings: GatewaySettings, run_service: RunService, db: asyncpg.Pool) -> AsyncIterator[Gateway]:
    service = build(settings)
    async with run_service(service) as url, aiohttp.ClientSession() as http:
        gateway = Gateway(url, http, service)
        for scope in ("read", "write", "admin"):
            gateway.tokens[scope] = await create_api_key(db, [scope], name=f"{scope}-key")
        yield gateway


@pytest.fixture
async def gateway(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix)
    async for started in _started(settings, run_service, db):
        yield started


@pytest.fixture
async def gateway_without_redis(
    database_url: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    """Redis points at a port nothing listens on."""
    settings = gateway_settings(database_url, f"redis://127.0.0.1:{free_port()}/0")
    async for started in _started(settings, run_service, db):
        yield started


@pytest.fixture
def seed(db: asyncpg.Pool) -> Seeder:
    return Seeder(db)


@pytest.fixture
async def replicas(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateway replicas on one database and one Redis, sharing one read key."""
    token = await create_api_key(db, ["read"], name="replicas")
    started: list[Gateway] = []
    async with aiohttp.ClientSession() as http:
        services = [build(gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix, instance=f"gw-{i}"))
                    for i in range(2)]
        async with run_service(services[0]) as url_a, run_service(services[1]) as url_b:
            for url, service in zip((url_a, url_b), services, strict=True):
                gateway = Gateway(url, http, service, tokens={"read": token})
                await until(lambda g=gateway: subscribed(g))
                started.append(gateway)
            yield started[0], started[1]
