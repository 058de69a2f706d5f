"""Bluesky: unauthenticated AppView profile reads, batched by 25, and handle/DID/URL resolution."""

from sma_platforms.bluesky.client import BlueskyAdapter

__all__ = ["BlueskyAdapter"]
