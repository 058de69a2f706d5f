"""The platform simulator as a real HTTP server on a free port, and helpers to drive the real
platform adapters against it through their settings (base URLs and credentials)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
from prometheus_client import CollectorRegistry

from sma_common.clock import FakeClock
from sma_common.platforms import Platform
from sma_common.settings import PlatformSettings
from sma_platforms import FetchTarget, ItemResult
from sma_simulator.context import SimContext
from sma_simulator.state import SimAccount

# Short enough that a `timeout` fault costs the suite half a second per test.
REQUEST_TIMEOUT = 0.5
MAX_RETRIES = 2
REDDIT_USER_AGENT = "test:sma-tests:0.1 (by /u/sma_demo)"


@dataclass
class Simulator:
    url: str
    ctx: SimContext
    clock: FakeClock
    registry: CollectorRegistry
    http: aiohttp.ClientSession
    sleeps: list[float] = field(default_factory=list)

    def platform_settings(self, **overrides: object) -> PlatformSettings:
        settings = self.ctx.settings
        values: dict[str, object] = {
            "twitch_api_base": f"{self.url}/helix",
            "twitch_auth_base": self.url,
            "twitch_client_id": settings.simulator_twitch_client_id,
            "twitch_client_secret": settings.simulator_twitch_client_secret,
            "youtube_api_base": f"{self.url}/youtube/v3",
            "youtube_api_key": settings.simulator_youtube_api_key,
            "bluesky_api_base": f"{self.url}/xrpc",
            "mastodon_api_base": f"{self.url}/mastodon/{{instance}}",
            "reddit_api_base": f"{self.url}/reddit",
            "reddit_auth_base": f"{self.url}/reddit-auth",
            "reddit_client_id": settings.simulator_reddit_client_id,
            "reddit_client_secret": settings.simulator_reddit_client_secret,
            "reddit_user_agent": REDDIT_USER_AGENT,
            "x_api_base": f"{self.url}/2",
            "x_bearer_token": settings.simulator_x_bearer_token,
            "platform_request_timeout_seconds": REQUEST_TIMEOUT,
            "platform_max_retries": MAX_RETRIES,
            **overrides,
        }
        return PlatformSettings(**values)  # type: ignore[arg-type]

    async def fault(self, **spec: object) -> None:
        async with self.http.post(f"{self.url}/_sim/faults", json=spec) as response:
            assert response.status == 201, await response.text()

    async def clear_faults(self) -> None:
        async with self.http.delete(f"{self.url}/_sim/faults") as response:
            assert response.status == 200, await response.text()

    async def record_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def accounts(self, platform: Platform) -> tuple[SimAccount, ...]:
        return self.ctx.world.accounts(platform)

    def targets(self, accounts: Sequence[SimAccount]) -> list[FetchTarget]:
        return [target(a.id, a.handle, account_id=n) for n, a in enumerate(accounts, start=1)]

    def expected(self, account: SimAccount) -> dict[str, float]:
        return self.ctx.world.metrics(account, self.clock.now())

    def requests(self, platform: Platform, endpoint: str | None = None) -> int:
        return self.ctx.ledger.requests(platform.value, endpoint)


def target(external_id: str, handle: str = "", account_id: int = 0) -> FetchTarget:
    return FetchTarget(uuid.uuid4(), account_id, external_id, handle)


def figures(item: ItemResult) -> dict[str, float]:
    return {o.metric: o.value for o in item.observations}
