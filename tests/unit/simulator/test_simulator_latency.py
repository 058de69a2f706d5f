from __future__ import annotations

import time

import aiohttp
import pytest
from pydantic import ValidationError

from sma_simulator.__main__ import build
from sma_simulator.settings import SimulatorSettings
from tests.fixtures.services import running
from tests.unit.simulator.harness import SimFactory

PROFILE = "/xrpc/app.bsky.actor.getProfile"


async def _timed_get(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, float]:
    started = time.monotonic()
    async with http.get(url, params=params) as response:
        await response.read()
        return response.status, time.monotonic() - started


async def test_latency_delays_platform_requests_only() -> None:
    settings = SimulatorSettings(
        http_host="127.0.0.1", http_port=0, simulator_accounts_per_platform=3, simulator_latency_ms=200
    )
    async with running(build(settings)) as url, aiohttp.ClientSession() as http:
        status, elapsed = await _timed_get(http, f"{url}{PROFILE}", actor="bsky.app")
        assert status == 200 and elapsed >= 0.2
        for path in ("/_sim/ledger", "/_sim/faults", "/health/live", "/metrics"):
            status, elapsed = await _timed_get(http, f"{url}{path}")
            assert status == 200 and elapsed < 0.2, path


async def test_latency_is_wall_time_and_off_by_default(start_sim: SimFactory) -> None:
    sim = await start_sim()
    assert sim.ctx.settings.simulator_latency_ms == 0
    started = time.monotonic()
    assert (await sim.client.get(PROFILE, params={"actor": "bsky.app"})).status == 200
    assert time.monotonic() - started < 0.2

    slow = await start_sim(simulator_latency_ms=200)
    started, simulated = time.monotonic(), slow.clock.now()
    assert (await slow.client.get(PROFILE, params={"actor": "bsky.app"})).status == 200
    assert time.monotonic() - started >= 0.2
    assert slow.clock.now() == simulated  # the simulated world's clock did not move


@pytest.mark.parametrize("latency_ms", [-1, 10_001])
def test_latency_bounds(latency_ms: float) -> None:
    with pytest.raises(ValidationError):
        SimulatorSettings(simulator_latency_ms=latency_ms)


async def test_huge_rate_limits_are_accepted_and_advertised(start_sim: SimFactory) -> None:
    huge = 10_000_000
    sim = await start_sim(
        simulator_twitch_points_per_minute=huge, simulator_youtube_daily_quota=huge, simulator_x_rate_limit=huge,
        simulator_reddit_rate_limit=huge, simulator_bluesky_rate_limit=huge, simulator_mastodon_rate_limit=huge,
    )
    for _ in range(3):
        response = await sim.client.get(PROFILE, params={"actor": "bsky.app"})
        assert response.status == 200
    assert response.headers["ratelimit-limit"] == str(huge)
    assert response.headers["ratelimit-remaining"] == str(huge - 3)
