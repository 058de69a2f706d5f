"""Every platform API call admitted against the platform's shared budget (`BudgetGate`).

The budgets are the documented ones (`platform_budgets`): Twitch's token bucket, YouTube's
daily quota ending at midnight Pacific, fixed windows for X, Reddit, Bluesky and each Mastodon
instance. One budget per platform and credential (`scope`), shared by every replica through
`sma_common.rate_limit.SharedRateLimiter`:

- before a call, `admit` spends one unit; when the budget is spent it waits for the refill if
  that is near (`max_wait`), and otherwise refuses with `BudgetSpent` without calling;
- after a reply, `observe` corrects the budget from the platform's headers, and a 429 holds
  the budget for every replica until the platform's reset;
- `hold` stops the budget for a quota error (YouTube's 403) or rejected credentials; a call
  refused by an auth hold raises `AuthHeld`, so a bad credential costs one call per hold
  period instead of one per batch.

When Redis fails the gate keeps only this process's holds (a 429 or quota error seen here), so
the platform's own 429s and `Retry-After` govern: collecting goes on, at the risk of a few
429s, rather than stopping with the cache. The breaker spares every call a Redis timeout meanwhile.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from redis.exceptions import ResponseError

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker
from sma_common.clock import Clock
from sma_common.platforms import Platform
from sma_common.rate_limit import Acquired, Budget, SharedRateLimiter
from sma_common.settings import PlatformSettings
from sma_platforms.base import RateLimitState
from sma_platforms.http import AuthHeld, BudgetSpent
from sma_platforms.youtube.parse import quota_reset_at

log = structlog.get_logger(__name__)

# A 429 that says nothing about when to come back holds the budget this long.
DEFAULT_429_HOLD_SECONDS = 60.0
REDIS_RETRY_SECONDS = 5.0
UNKNOWN_TOKENS = -1.0  # granted by the local fallback: what is left is not known


@dataclass(frozen=True, slots=True)
class PlatformBudget:
    """A platform's budget, and (for calendar-aligned quotas) when its current window ends."""

    budget: Budget
    window_end: Callable[[datetime], datetime] | None = None


def platform_budgets(settings: PlatformSettings) -> dict[Platform, PlatformBudget]:
    """The documented limits (see docs/PLATFORMS.md), sized by the settings."""
    return {
        Platform.TWITCH: PlatformBudget(Budget.token_bucket(settings.twitch_rate_limit_per_minute, 60)),
        Platform.YOUTUBE: PlatformBudget(
            Budget.fixed_window(settings.youtube_daily_quota_units, 86_400), window_end=quota_reset_at
        ),
        Platform.X: PlatformBudget(Budget.fixed_window(settings.x_rate_limit_per_15_minutes, 900)),
        Platform.REDDIT: PlatformBudget(Budget.fixed_window(settings.reddit_rate_limit_per_10_minutes, 600)),
        Platform.BLUESKY: PlatformBudget(Budget.fixed_window(settings.bluesky_rate_limit_per_5_minutes, 300)),
        Platform.MASTODON: PlatformBudget(Budget.fixed_window(settings.mastodon_rate_limit_per_5_minutes, 300)),
    }


class BudgetListener(Protocol):
    """Where a service's metrics hear about budgets (the collector's gauges and counters)."""

    def remaining(self, platform: Platform, tokens: float) -> None: ...

    def limited(self, platform: Platform) -> None: ...


class BudgetGate:
    """One platform's calls admitted against its shared budgets, one per scope (credential)."""

    def __init__(
        self,
        limiter: SharedRateLimiter | None,
        platform: Platform,
        policy: PlatformBudget,
        *,
        clock: Clock,
        max_wait: float,
        auth_hold_seconds: float,
        listener: BudgetListener | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.platform = platform
        self._limiter, self._policy, self._clock = limiter, policy, clock
        self._max_wait, self._auth_hold = max_wait, auth_hold_seconds
        self._listener, self._sleep = listener, sleep
        self._breaker = RedisBreaker(REDIS_RETRY_SECONDS)
        self._local_holds: dict[str, tuple[float, str]] = {}
        self._last: Acquired | None = None
        self._queues: dict[str, asyncio.Lock] = {}

    @property
    def budget(self) -> Budget:
        return self._policy.budget

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def admit(self, scope: str) -> None:
        """Spend one unit of the scope's budget, waiting up to `max_wait` for it; raises
        `BudgetSpent` or `AuthHeld` instead of calling when the wait would be longer.

        Callers of one process queue for a scope in turn (first come, first served), so only
        one of them asks Redis at a time: a hundred calls waiting for a refill cost one Redis
        round trip per refill, not a hundred, and never exhaust the connection pool.
        """
        lock = self._queues.setdefault(scope, asyncio.Lock())
        queued = time.monotonic()
        try:
            await asyncio.wait_for(lock.acquire(), timeout=self._max_wait or None)
        except TimeoutError:
            if self._listener is not None:
                self._listener.limited(self.platform)
            raise BudgetSpent(f"{self.platform.value} budget spent: {self._max_wait:g}s queued for it",
                              retry_after=None) from None
        try:
            await self._admit(scope, waited=time.monotonic() - queued)
        finally:
            lock.release()

    async def _admit(self, scope: str, waited: float) -> None:
        while True:
            acquired = self._last = await self._acquire(scope)
            if acquired.granted:
                if self._listener is not None and acquired.tokens_left >= 0:
                    self._listener.remaining(self.platform, acquired.tokens_left)
                return
            wait = acquired.wait_seconds
            until = _iso(self._now() + wait) if wait >= 0 else "it is raised"
            if acquired.held_for == "auth_error":
                raise AuthHeld(f"{self.platform.value} rejected our credentials; next attempt after {until}")
            if wait < 0 or waited + wait > self._max_wait:
                if self._listener is not None:
                    self._listener.limited(self.platform)
                reason = acquired.held_for or "budget spent"
                raise BudgetSpent(f"{self.platform.value} {reason}; calls resume at {until}",
                                  retry_after=wait if wait >= 0 else None)
            # Full jitter on top of the wait, so replicas woken by one refill do not collide.
            pause = wait + random.uniform(0, min(1.0, wait / 10 + 0.05))
            await self._sleep(pause)
            waited += pause

    async def observe(self, scope: str, status: int, state: RateLimitState | None, retry_after: float | None) -> None:
        """Correct the budget from a reply; a 429 holds it for every replica until its reset."""
        now = self._now()
        if status == 429:
            if self._listener is not None:
                self._listener.limited(self.platform)
            await self.hold(scope, now + (retry_after if retry_after is not None else DEFAULT_429_HOLD_SECONDS),
                            "rate_limited")
            return
        if state is None or (state.remaining is None and state.reset_at is None) or not self._redis_allowed():
            return
        reset_at = state.reset_at.timestamp() if state.reset_at is not None else None
        try:
            await self._limiter.observe(  # type: ignore[union-attr]
                self.platform.value, scope, self.budget, now, remaining=state.remaining, reset_at=reset_at
            )
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)

    async def hold(self, scope: str, until: float, reason: str) -> None:
        """Refuse the scope's calls on every replica until `until` (epoch seconds)."""
        if reason == "quota" and self._listener is not None:
            self._listener.limited(self.platform)  # a spent quota stops fetches as a 429 does
        held = self._local_holds.get(scope)
        if held is None or held[0] < until:
            self._local_holds[scope] = (until, reason)
        log.warning("platform.budget_held", platform=self.platform.value, reason=reason, until=_iso(until))
        if not self._redis_allowed():
            return
        try:
            await self._limiter.hold(self.platform.value, scope, until, reason)  # type: ignore[union-attr]
        except REDIS_FAILURES as exc:
            self._redis_failed(exc)

    async def hold_for_auth(self, scope: str) -> None:
        if self._auth_hold > 0:
            await self.hold(scope, self._now() + self._auth_hold, "auth_error")

    def details(self) -> dict[str, object]:
        """This process's latest view of the budget, for `/health/detailed`."""
        view: dict[str, object] = {"limit": self.budget.capacity, "window_seconds": self.budget.window_seconds}
        if self._last is not None:
            view["remaining"] = self._last.tokens_left
        now = self._now()
        holds = {scope: {"until": _iso(until), "reason": reason}
                 for scope, (until, reason) in self._local_holds.items() if until > now}
        if holds:
            view["holds"] = holds
        return view

    async def _acquire(self, scope: str) -> Acquired:
        now = self._now()
        if self._redis_allowed():
            window_end = self._policy.window_end
            try:
                return await self._limiter.acquire(  # type: ignore[union-attr]
                    self.platform.value, scope, self.budget, now,
                    window_end=window_end(self._clock.now()).timestamp() if window_end else None,
                )
            except REDIS_FAILURES as exc:
                self._redis_failed(exc)
        until, reason = self._local_holds.get(scope, (0.0, ""))
        if until > now:
            return Acquired(False, until - now, 0.0, reason)
        return Acquired(True, 0.0, UNKNOWN_TOKENS)

    def _redis_allowed(self) -> bool:
        return self._limiter is not None and self._breaker.allows()

    def _redis_failed(self, exc: BaseException) -> None:
        if isinstance(exc, ResponseError):
            raise exc  # a script Redis refuses is a bug to see, not an outage to ride out
        self._breaker.trip()
        log.warning("platform.budget_redis_unavailable", platform=self.platform.value, error=repr(exc))


def build_gates(
    limiter: SharedRateLimiter | None,
    settings: PlatformSettings,
    *,
    clock: Clock,
    max_wait: float | None = None,
    listener: BudgetListener | None = None,
) -> Mapping[Platform, BudgetGate]:
    """One gate per platform, sized from the settings."""
    wait = settings.platform_budget_max_wait_seconds if max_wait is None else max_wait
    return {
        platform: BudgetGate(limiter, platform, policy, clock=clock, max_wait=wait,
                             auth_hold_seconds=settings.platform_auth_error_hold_seconds, listener=listener)
        for platform, policy in platform_budgets(settings).items()
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
