"""One retry policy: explicit exception types, exponential back-off with full jitter, attempt
and elapsed-time caps, injectable sleep. Used for start-up connections and platform calls;
retries happen at one layer only.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    on: tuple[type[BaseException], ...]
    max_attempts: int = 5
    max_elapsed: float = 30.0
    base_delay: float = 0.1
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** attempt)))

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        what: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await fn()
            except self.on as exc:
                attempt += 1
                delay = self.delay(attempt)
                elapsed = time.monotonic() - started
                if attempt >= self.max_attempts or elapsed + delay > self.max_elapsed:
                    raise
                log.warning("retry", what=what, attempt=attempt, delay_s=round(delay, 3), error=repr(exc))
                if on_retry is not None:
                    on_retry(exc)
                await sleep(delay)
