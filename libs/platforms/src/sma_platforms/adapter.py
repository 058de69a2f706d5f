"""The skeleton every platform adapter shares: an injected clock and sleep, one HTTP client built
from the platform settings (timeouts, retries, the platform's rate-limit header dialect), and
`close()`, and the shared budget every API call is admitted by (`use_budget`). A platform
subclass names itself, its batch size and header dialect, and reads its own settings (base URL,
credentials, the budget scope) in `_configure`.

`ChunkedAdapter` adds the fetch most platforms share: unconfigured → every target `auth_error`
without a call; ids that cannot be the platform's → `not_found` without a call; the rest in
chunks of the batch size, one `_fetch_chunk` each, until a platform-wide failure halts the batch.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from sma_common.clock import Clock, SystemClock
from sma_common.platforms import Platform
from sma_common.settings import PlatformSettings
from sma_platforms.base import FetchResult, FetchTarget, Outcome
from sma_platforms.batch import BatchResults, chunked
from sma_platforms.http import CallGate, CallLog, HttpClient
from sma_platforms.ratelimit import RateLimitFormat


def credential_digest(secret: str) -> str:
    """A short, irreversible name for a secret credential: budgets are keyed by it in Redis."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class HttpAdapter:
    platform: Platform
    max_batch_size: int
    rate_limit_format: RateLimitFormat | None = None
    # Whose budget the calls spend: the credential's public id or a digest of it (set in
    # `_configure`); per-instance platforms pass their own scope per call.
    budget_scope = "public"

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

    def use_budget(self, gate: CallGate) -> None:
        """Admit every API call through the platform's shared budget."""
        self._http.attach(gate, self.budget_scope)

    async def close(self) -> None:
        await self._http.close()


class ChunkedAdapter(HttpAdapter, ABC):
    unconfigured_detail = "the platform is not configured"
    invalid_id_detail = "not an id of this platform"

    @property
    def is_configured(self) -> bool:
        return True

    def valid_id(self, external_id: str) -> bool:
        """Whether `external_id` can be one of the platform's ids at all (checked before any call)."""
        return True

    async def fetch(self, targets: Sequence[FetchTarget]) -> FetchResult:
        observed_at = self._clock.now()
        log, results = CallLog(), BatchResults(targets)
        if not self.is_configured:
            results.fail(targets, Outcome.AUTH_ERROR, self.unconfigured_detail)
            return results.build(log, observed_at)
        results.fail([t for t in targets if not self.valid_id(t.external_id)], Outcome.NOT_FOUND,
                     self.invalid_id_detail)
        for chunk in chunked(results.pending(), self.max_batch_size):
            if results.pending(chunk):
                await self._fetch_chunk(chunk, results, log)
        if results.credentials_rejected:
            await self._http.hold_for_auth()
        return results.build(log, observed_at)

    @abstractmethod
    async def _fetch_chunk(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        """Fetch one chunk (one request where the platform allows) and record every target's result."""
