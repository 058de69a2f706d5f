from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from sma_common.clock import FakeClock
from sma_common.metrics import create_registry
from sma_platforms.bluesky import BlueskyAdapter
from sma_platforms.twitch import TwitchAdapter
from sma_platforms.youtube import YouTubeAdapter
from sma_simulator.app import create_app
from sma_simulator.context import SIM_CONTEXT
from sma_simulator.settings import SimulatorSettings
from tests.integration.platforms.harness import Simulator

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
StartSimulator = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    servers: list[TestServer] = []
    async with aiohttp.ClientSession() as http:

        async def start(**overrides: object) -> Simulator:
            values: dict[str, object] = {"simulator_accounts_per_platform": 30, "simulator_token_ttl_seconds": 3600,
                                         **overrides}
            settings = SimulatorSettings(**values)  # type: ignore[arg-type]
            clock, registry = FakeClock(START), create_registry("simulator", "test")
            app = create_app(settings, clock, registry=registry)
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            servers.append(server)
            return Simulator(str(server.make_url("")).rstrip("/"), app[SIM_CONTEXT], clock, registry, http)

        yield start
        for server in servers:
            await server.close()


@pytest.fixture
async def simulator(start_simulator: StartSimulator) -> Simulator:
    return await start_simulator()


@pytest.fixture
async def twitch(simulator: Simulator) -> AsyncIterator[TwitchAdapter]:
    adapter = TwitchAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()


@pytest.fixture
async def bluesky(simulator: Simulator) -> AsyncIterator[BlueskyAdapter]:
    adapter = BlueskyAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()


@pytest.fixture
async def youtube(simulator: Simulator) -> AsyncIterator[YouTubeAdapter]:
    adapter = YouTubeAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()
