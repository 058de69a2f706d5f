"""YouTube Data API v3: API-key auth, channels.list batched by 50, channel id/URL/@handle resolution."""

from sma_platforms.youtube.client import YouTubeAdapter

__all__ = ["YouTubeAdapter"]
