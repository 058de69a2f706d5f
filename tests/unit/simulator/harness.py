"""The in-process simulator harness for unit tests: a TestClient on a FakeClock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from sma_common.clock import FakeClock
from sma_simulator.context import SimContext

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class SimHarness:
    client: TestClient
    ctx: SimContext
    clock: FakeClock
    registry: CollectorRegistry

    async def token(self) -> str:
        settings = self.ctx.settings
        form = {"client_id": settings.simulator_twitch_client_id,
                "client_secret": settings.simulator_twitch_client_secret.get_secret_value(),
                "grant_type": "client_credentials"}
        response = await self.client.post("/oauth2/token", data=form)
        assert response.status == 200
        return str((await response.json())["access_token"])

    def helix_headers(self, token: str) -> dict[str, str]:
        return {"Client-Id": self.ctx.settings.simulator_twitch_client_id, "Authorization": f"Bearer {token}"}


SimFactory = Callable[..., Awaitable[SimHarness]]


