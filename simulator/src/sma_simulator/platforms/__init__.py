"""The simulated platforms, one module each, speaking that platform's real wire format.
Adding a platform is one module here and one line in `SIMULATORS`, next to its world profile
in `sma_simulator.profiles`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.bluesky import BlueskySimulator
from sma_simulator.platforms.mastodon import MastodonSimulator
from sma_simulator.platforms.reddit import RedditSimulator
from sma_simulator.platforms.twitch import TwitchSimulator
from sma_simulator.platforms.x import XSimulator
from sma_simulator.platforms.youtube import YouTubeSimulator


class PlatformSimulator(Protocol):
    def add_routes(self, app: web.Application) -> None: ...


SIMULATORS: dict[Platform, Callable[[SimContext], PlatformSimulator]] = {
    Platform.TWITCH: TwitchSimulator,
    Platform.YOUTUBE: YouTubeSimulator,
    Platform.BLUESKY: BlueskySimulator,
    Platform.MASTODON: MastodonSimulator,
    Platform.REDDIT: RedditSimulator,
    Platform.X: XSimulator,
}
