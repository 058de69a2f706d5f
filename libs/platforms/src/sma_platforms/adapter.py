"""The skeleton every platform adapter shares: an injected clock and sleep, one HTTP client built
from the platform settings (timeouts, retries, the platform's rate-limit header dialect), and
`close()`. A platform subclass names itself, its batch size and header dialect, and reads its own
settings (base URL, credentials) in `_configure`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sma_common.clock import Clock, SystemClock
from sma_common.platforms import Platform
from sma_common.settings import PlatformSettings
from sma_platforms.http import HttpClient
from sma_platforms.ratelimit import RateLimitFormat


class HttpAdapter:
    platform: Platform
    max_batch_size: int
    rate_limit_format: RateLimitFormat | None = None

    def __init__(
        self,
        settings: PlatformSettings,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock or SystemClock()
        self._http = HttpClient.from_settings(settings, self.rate_limit_format, clock=self._clock, sleep=sleep)
        self._configure(settings)

    def _configure(self, settings: PlatformSettings) -> None:
        """Read the platform's own settings; the clock and HTTP client are already set."""

    async def close(self) -> None:
        await self._http.close()
