"""The simulated platforms' worlds, one profile module each. Adding a platform to the world is
one module here and one line in `PROFILES`."""

from __future__ import annotations

from sma_common.platforms import Platform
from sma_simulator.profiles import bluesky, mastodon, reddit, twitch, x, youtube
from sma_simulator.profiles.base import DemoAccount, LiveStream, PlatformProfile, SimAccount, unit

__all__ = ["PROFILES", "DemoAccount", "LiveStream", "PlatformProfile", "SimAccount", "unit"]

PROFILES: dict[Platform, PlatformProfile] = {
    Platform.TWITCH: twitch.PROFILE,
    Platform.YOUTUBE: youtube.PROFILE,
    Platform.BLUESKY: bluesky.PROFILE,
    Platform.MASTODON: mastodon.PROFILE,
    Platform.REDDIT: reddit.PROFILE,
    Platform.X: x.PROFILE,
}
