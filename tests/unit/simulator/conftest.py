from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sma_common.clock import FakeClock
from sma_common.metrics import create_registry
from sma_simulator.app import create_app
from sma_simulator.context import SIM_CONTEXT
from sma_simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import START, SimFactory, SimHarness


@pytest.fixture
async def start_sim() -> AsyncIterator[SimFactory]:
    clients: list[TestClient] = []

    async def start(**overrides: object) -> SimHarness:
        settings = SimulatorSettings(simulator_accounts_per_platform=12, **overrides)  # type: ignore[arg-type]
        clock, registry = FakeClock(START), create_registry("simulator", "test")
        app = create_app(settings, clock, registry=registry)
        client: TestClient = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return SimHarness(client, app[SIM_CONTEXT], clock, registry)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def sim(start_sim: SimFactory) -> SimHarness:
    return await start_sim()
