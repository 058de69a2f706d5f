"""Per-API-key rate limiting on `/api/*`: one token bucket per key in Redis, shared by every
gateway replica through `sma_common.rate_limit.SharedRateLimiter` (namespace `apikey`, scope the
key's id, never its secret).

A key's bucket holds `SMA_API_RATE_LIMIT_BURST` requests and refills at
`SMA_API_RATE_LIMIT_PER_MINUTE / 60` a second; `SMA_API_RATE_LIMIT_OVERRIDES` sets another
per-minute limit for a key prefix (its bucket is then at most that limit), and 0 turns limiting
off. Every limited response carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
(seconds until the bucket is full again) and `RateLimit-Policy`; a request over the limit gets a
429 problem (`urn:sma:problem:rate-limited`) with `Retry-After`.

A replica does not ask Redis on every request: it takes a small lease of requests from the key's
bucket at once (`LEASE_FRACTION` of the burst, at most `LEASE_MAX`) and spends it locally for
at most `LEASE_SECONDS`; what is unspent then is dropped, so a lease can only make a limit
stricter, never looser, and a key's 429 arrives at most a lease early. A refusal is remembered
the same way until the bucket can pay again, so a client hammering past its limit costs no round
trips either.

When Redis fails the limiter fails open: requests are served unlimited (and without the headers),
and a breaker skips Redis for `SMA_CACHE_REDIS_RETRY_SECONDS`, so an outage adds no latency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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
LEASE_FRACTION = 0.05
LEASE_MAX = 20
LEASE_SECONDS = 1.0


@dataclass(slots=True)
class _Lease:
    tokens: int  # requests paid for in the shared bucket, not yet served here
    shared_left: float  # what the shared bucket held after the lease was taken
    expires: float  # monotonic
    refused: bool = False  # the bucket could not pay: every request until `expires` gets the 429


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
        self._leases: dict[int, _Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def check(self, principal: Principal) -> dict[str, str]:
        """The headers for this request; raises the 429 problem when the key is over its limit."""
        budget = self._limits.for_key(principal.prefix)
        if budget is None or not self._breaker.allows():
            return {}
        served = self._spend_lease(principal.key_id, budget)
        if served is not None:
            return served
        # One lease request per key at a time: a burst waits for it instead of each request
        # leasing (and wasting) its own share of the bucket.
        async with self._locks.setdefault(principal.key_id, asyncio.Lock()):
            served = self._spend_lease(principal.key_id, budget)
            if served is not None:
                return served
            try:
                acquired, size = await self._take_lease(principal.key_id, budget)
            except REDIS_FAILURES as exc:
                # Fail open: reads keep working without Redis (see docs/ARCHITECTURE.md).
                self._breaker.trip()
                log.warning("rate_limit.redis_failed", error=repr(exc))
                return {}
            until = time.monotonic() + (LEASE_SECONDS if acquired.granted else max(acquired.wait_seconds, 0.0))
            self._leases[principal.key_id] = _Lease(
                size - 1 if acquired.granted else 0, acquired.tokens_left, until, refused=not acquired.granted)
        if not acquired.granted:
            raise self._refuse(budget, acquired)
        return rate_limit_headers(budget, acquired)

    def spend(self, principal: Principal) -> dict[str, str] | None:
        """This request's headers when no Redis round trip is due (a live lease pays, or the key is
        unlimited, or the limiter is failing open); None when `check` must decide. Never waits."""
        budget = self._limits.for_key(principal.prefix)
        if budget is None or not self._breaker.allows():
            return {}
        lease = self._leases.get(principal.key_id)
        if lease is None or lease.refused:
            return None
        return self._spend_lease(principal.key_id, budget)

    def _refuse(self, budget: Budget, acquired: Acquired) -> ProblemError:
        self._record_rejected()
        retry_after = max(1, math.ceil(acquired.wait_seconds))
        return ProblemError(
            429, f"This API key is over its rate limit; retry in {retry_after} s.", kind="rate-limited",
            headers={**rate_limit_headers(budget, acquired), "Retry-After": str(retry_after)},
        )

    def _spend_lease(self, key_id: int, budget: Budget) -> dict[str, str] | None:
        """This request's headers when a live lease pays for it, None when Redis must be asked;
        raises the 429 while a remembered refusal lasts."""
        lease = self._leases.get(key_id)
        now = time.monotonic()
        if lease is None or lease.expires <= now:
            return None
        if lease.refused:
            raise self._refuse(budget, Acquired(False, lease.expires - now, lease.shared_left))
        if lease.tokens <= 0:
            return None
        lease.tokens -= 1
        return rate_limit_headers(budget, Acquired(True, 0.0, lease.shared_left + lease.tokens))

    async def _take_lease(self, key_id: int, budget: Budget) -> tuple[Acquired, int]:
        """A lease of several requests when the bucket has them, else of the one this request needs."""
        size = max(1, min(LEASE_MAX, int(budget.capacity * LEASE_FRACTION)))
        now = self._clock.now().timestamp()
        acquired = await self._limiter.acquire(NAMESPACE, str(key_id), budget, now, cost=size)
        if not acquired.granted and size > 1:
            size = 1
            acquired = await self._limiter.acquire(NAMESPACE, str(key_id), budget, now)
        return acquired, size


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
