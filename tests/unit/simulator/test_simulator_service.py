from __future__ import annotations

import asyncio
import time

import aiohttp

from sma_simulator.__main__ import build
from sma_simulator.settings import SimulatorSettings
from tests.fixtures.services import running


def test_settings_defaults() -> None:
    settings = SimulatorSettings()
    assert settings.http_port == 8090
    assert settings.simulator_twitch_client_id == "sma-demo-client"
    assert settings.simulator_twitch_client_secret.get_secret_value() == "sma-demo-secret"


async def test_service_serves_platforms_health_and_metrics() -> None:
    service = build(SimulatorSettings(http_host="127.0.0.1", http_port=0, simulator_accounts_per_platform=5))
    async with running(service) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/health/live") as live:
            assert live.status == 200
        async with http.get(f"{url}/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"}) as profile:
            assert profile.status == 200
            assert profile.headers["ratelimit-limit"] == "3000"
        async with http.get(f"{url}/metrics") as metrics:
            text = await metrics.text()
    assert ('sma_simulator_requests_total{endpoint="app.bsky.actor.getProfile",platform="bluesky",'
            'status_class="2xx"} 1.0') in text
    assert 'route="/xrpc/app.bsky.actor.getProfile"' in text


async def test_stopping_releases_responses_held_by_a_timeout_fault() -> None:
    service = build(SimulatorSettings(http_host="127.0.0.1", http_port=0, simulator_accounts_per_platform=3))
    async with aiohttp.ClientSession() as http:
        async with running(service) as url:
            fault = {"platform": "bluesky", "kind": "timeout", "delay_seconds": 120}
            async with http.post(f"{url}/_sim/faults", json=fault) as created:
                assert created.status == 201
            held = asyncio.create_task(
                http.get(f"{url}/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"}))
            deadline = time.monotonic() + 10
            while not await _ledger_requests(http, url):
                assert time.monotonic() < deadline, "the held request never reached the simulator"
                await asyncio.sleep(0.01)
            stopping_at = time.monotonic()
        assert time.monotonic() - stopping_at < 10
        response = await held
        response.release()


async def _ledger_requests(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/_sim/ledger", params={"platform": "bluesky"}) as response:
        return int((await response.json())["bluesky"]["requests"])
