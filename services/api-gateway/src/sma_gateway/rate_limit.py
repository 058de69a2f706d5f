"""Per-API-key rate limiting on `/api/*`: one token bucket per key in Redis, shared by every
gateway replica through `sma_common.rate_limit.SharedRateLimiter` (namespace `apikey`, scope the
key's id, never its secret).

A key's bucket holds `SMA_API_RATE_LIMIT_BURST` requests and refills at
`SMA_API_RATE_LIMIT_PER_MINUTE / 60` a second; `SMA_API_RATE_LIMIT_OVERRIDES` sets another
per-minute limit for a key prefix (its bucket is then at most that limit), and 0 turns limiting
off. Every limited response carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
(seconds until the bucket is full again) and `RateLimit-Policy`; a request over the limit gets a
429 problem (`urn:sma:problem:rate-limited`) with `Retry-After`.

When Redis fails the limiter fails open: requests are served unlimited (and without the headers),
and a breaker skips Redis for `SMA_CACHE_REDIS_RETRY_SECONDS`, so an outage adds no latency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker
from sma_common.clock import Clock
from sma_common.rate_limit import Acquired, Budget, SharedRateLimiter
from sma_gateway.auth import PRINCIPAL, Principal
from sma_gateway.problem import ProblemError

log = structlog.get_logger(__name__)

NAMESPACE = "apikey"


class KeyLimits:
    """The bucket of each key: the default, or its prefix's override; None means unlimited."""

    def __init__(self, per_minute: int, burst: int, overrides: Mapping[str, int]) -> None:
        self._default = _budget(per_minute, burst)
        self._overrides = {prefix: _budget(limit, min(burst, limit)) for prefix, limit in overrides.items()}

    def for_key(self, prefix: str) -> Budget | None:
        return self._overrides.get(prefix, self._default)


def _budget(per_minute: int, burst: int) -> Budget | None:
    if per_minute <= 0:
        return None
    # capacity `burst`, refilled at per_minute / 60 a second.
    return Budget.token_bucket(burst, burst * 60.0 / per_minute)


def rate_limit_headers(budget: Budget, acquired: Acquired) -> dict[str, str]:
    left = max(0.0, acquired.tokens_left)
    reset = math.ceil((budget.capacity - left) / budget.refill_per_second)
    return {
        "RateLimit-Limit": str(int(budget.capacity)),
        "RateLimit-Remaining": str(math.floor(left)),
        "RateLimit-Reset": str(max(0, reset)),
        "RateLimit-Policy": f"{int(budget.capacity)};w={math.ceil(budget.window_seconds)}",
    }


class KeyRateLimiter:
    def __init__(
        self, limiter: SharedRateLimiter, limits: KeyLimits, breaker: RedisBreaker, clock: Clock,
        record_rejected: Callable[[], None],
    ) -> None:
        self._limiter, self._limits, self._breaker, self._clock = limiter, limits, breaker, clock
        self._record_rejected = record_rejected

    async def check(self, principal: Principal) -> dict[str, str]:
        """The headers for this request; raises the 429 problem when the key is over its limit."""
        budget = self._limits.for_key(principal.prefix)
        if budget is None or not self._breaker.allows():
            return {}
        try:
            acquired = await self._limiter.acquire(
                NAMESPACE, str(principal.key_id), budget, self._clock.now().timestamp()
            )
        except REDIS_FAILURES as exc:
            # Fail open: reads keep working without Redis (see docs/ARCHITECTURE.md).
            self._breaker.trip()
            log.warning("rate_limit.redis_failed", error=repr(exc))
            return {}
        headers = rate_limit_headers(budget, acquired)
        if not acquired.granted:
            self._record_rejected()
            retry_after = max(1, math.ceil(acquired.wait_seconds))
            raise ProblemError(
                429, f"This API key is over its rate limit; retry in {retry_after} s.", kind="rate-limited",
                headers={**headers, "Retry-After": str(retry_after)},
            )
        return headers


def rate_limit_middleware(limiter: KeyRateLimiter) -> Middleware:
    """After auth: limits requests that carry an authenticated key (only `/api/*` do)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is None:
            return await handler(request)
        headers = await limiter.check(principal)
        try:
            response = await handler(request)
        except ProblemError as exc:
            exc.headers = {**headers, **exc.headers}
            raise
        if not response.prepared:
            response.headers.update(headers)
        return response

    return middleware
