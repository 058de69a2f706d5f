"""Which adapter serves which platform. Adding a platform is one package and one line here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog

from sma_common.platforms import Platform
from sma_common.settings import PlatformSettings
from sma_platforms.base import PlatformAdapter
from sma_platforms.bluesky import BlueskyAdapter
from sma_platforms.http import CallGate
from sma_platforms.mastodon import MastodonAdapter
from sma_platforms.reddit import RedditAdapter
from sma_platforms.twitch import TwitchAdapter
from sma_platforms.x import XAdapter
from sma_platforms.youtube import YouTubeAdapter

log = structlog.get_logger(__name__)



class _BudgetedAdapter(PlatformAdapter, Protocol):
    def use_budget(self, gate: CallGate) -> None: ...


AdapterFactory = Callable[[PlatformSettings], _BudgetedAdapter]

ADAPTER_FACTORIES: dict[Platform, AdapterFactory] = {
    Platform.TWITCH: TwitchAdapter,
    Platform.YOUTUBE: YouTubeAdapter,
    Platform.BLUESKY: BlueskyAdapter,
    Platform.MASTODON: MastodonAdapter,
    Platform.REDDIT: RedditAdapter,
    Platform.X: XAdapter,
}


def build_adapters(
    settings: PlatformSettings, *, gates: Mapping[Platform, CallGate] | None = None
) -> dict[Platform, PlatformAdapter]:
    """One adapter per implemented platform, configured or not (callers check `is_configured`),
    its API calls admitted by the platform's gate when `gates` has one (`budget.build_gates`).

    No I/O happens here: each adapter opens its HTTP session on first use.
    """
    adapters: dict[Platform, PlatformAdapter] = {}
    for platform, factory in ADAPTER_FACTORIES.items():
        adapter = factory(settings)
        if gates is not None and platform in gates:
            adapter.use_budget(gates[platform])
        adapters[platform] = adapter
    return adapters


class AdapterSet:
    """The adapters as a service resource: nothing to open (sessions open on first use), every
    adapter's HTTP session closed when the service stops."""

    name = "platform-adapters"

    def __init__(self, adapters: Mapping[Platform, PlatformAdapter]) -> None:
        self.adapters = adapters

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        results = await asyncio.gather(*(a.close() for a in self.adapters.values()), return_exceptions=True)
        for platform, result in zip(self.adapters, results, strict=True):
            if isinstance(result, Exception):
                log.warning("platform_adapter.close_failed", platform=platform, error=repr(result))

    def details(self) -> dict[str, object]:
        """`configured` or `unconfigured` per platform, for `/health/detailed`."""
        return {p.value: ("configured" if a.is_configured else "unconfigured") for p, a in self.adapters.items()}
