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
from tests.integration.gateway.harness import Gateway, RunService, Seeder, create_api_key, gateway_settings


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
