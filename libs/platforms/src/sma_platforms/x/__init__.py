"""X API v2: app-only Bearer auth, /2/users batched by 100, user id/@username/URL resolution."""

from sma_platforms.x.client import XAdapter

__all__ = ["XAdapter"]
