"""Which adapter serves which platform. Adding a platform is one package and one line here."""

from __future__ import annotations

from collections.abc import Callable

from sma_common.platforms import Platform
from sma_common.settings import PlatformSettings
from sma_platforms.base import PlatformAdapter
from sma_platforms.bluesky import BlueskyAdapter
from sma_platforms.twitch import TwitchAdapter

AdapterFactory = Callable[[PlatformSettings], PlatformAdapter]

ADAPTER_FACTORIES: dict[Platform, AdapterFactory] = {
    Platform.TWITCH: TwitchAdapter,
    Platform.BLUESKY: BlueskyAdapter,
}


def build_adapters(settings: PlatformSettings) -> dict[Platform, PlatformAdapter]:
    """One adapter per implemented platform, configured or not (callers check `is_configured`).

    No I/O happens here: each adapter opens its HTTP session on first use.
    """
    return {platform: factory(settings) for platform, factory in ADAPTER_FACTORIES.items()}
