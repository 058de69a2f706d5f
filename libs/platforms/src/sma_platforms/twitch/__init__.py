"""Twitch Helix: app-token auth, batched users/streams/followers fetch, login and URL resolution."""

from sma_platforms.twitch.client import TwitchAdapter

__all__ = ["TwitchAdapter"]
