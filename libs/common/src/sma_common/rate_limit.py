"""Shared platform budgets in Redis: one token bucket per (platform, credential), used atomically
by every collector replica, corrected by what the platform itself reports, and frozen until the
platform's reset time after a 429 or a quota error.

Each bucket is one Redis hash (`<prefix>ratelimit:<platform>:<credential>`) with `tokens`,
`updated` (seconds), `capacity`, `refill` (tokens per second) and `frozen_until` (seconds).
Every operation is a Lua script, so concurrent replicas never both spend the last token.
Times come from the caller's clock (replicas are NTP-synchronised; budgets are per minute or
per day, far coarser than clock skew), which keeps the arithmetic testable with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sma_common.redis import RedisClient

# KEYS[1] bucket; ARGV: now, cost, capacity, refill. Returns {granted 0/1, wait seconds, tokens}.
_ACQUIRE = """
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'frozen_until')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, refill = tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens = tonumber(b[1]) or capacity
local updated = tonumber(b[2]) or now
local frozen = tonumber(b[3]) or 0
if frozen > now then
  return {0, tostring(frozen - now), tostring(0)}
end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * refill)
local granted, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  granted = 1
elseif refill > 0 then
  wait = (cost - tokens) / refill
else
  wait = -1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now),
           'capacity', tostring(capacity), 'refill', tostring(refill))
redis.call('EXPIRE', KEYS[1], 86400 * 2)
return {granted, tostring(wait), tostring(tokens)}
"""

# KEYS[1] bucket; ARGV: now, remaining (or ''), reset_at (or ''), freeze 0/1.
# What the platform says wins over our own count when it is lower; `freeze` (a 429 or a quota
# error) stops every replica until reset_at.
_OBSERVE = """
local now = tonumber(ARGV[1])
local remaining, reset_at, freeze = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
if remaining ~= nil then
  local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
  if tokens == nil or remaining < tokens then
    redis.call('HSET', KEYS[1], 'tokens', tostring(remaining), 'updated', tostring(now))
  end
end
if reset_at ~= nil and (freeze or remaining == 0) then
  local frozen = tonumber(redis.call('HGET', KEYS[1], 'frozen_until')) or 0
  if reset_at > frozen then
    redis.call('HSET', KEYS[1], 'frozen_until', tostring(reset_at))
  end
end
redis.call('EXPIRE', KEYS[1], 86400 * 2)
return 1
"""


@dataclass(frozen=True, slots=True)
class Budget:
    """A platform's documented limit: `capacity` calls (or quota units), refilled evenly."""

    capacity: float
    refill_per_second: float

    @classmethod
    def per_window(cls, calls: float, window_seconds: float) -> Budget:
        return cls(capacity=calls, refill_per_second=calls / window_seconds)


@dataclass(frozen=True, slots=True)
class Acquired:
    granted: bool
    wait_seconds: float  # before asking again; -1 when the bucket never refills by itself
    tokens_left: float


@dataclass(frozen=True, slots=True)
class BucketState:
    tokens: float | None
    frozen_until: float | None


class SharedRateLimiter:
    """Atomic per-(platform, credential) budgets shared by every replica through Redis."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    def _key(self, platform: str, credential: str) -> str:
        return self._redis.key("ratelimit", platform, credential)

    async def acquire(self, platform: str, credential: str, budget: Budget, now: float, cost: float = 1) -> Acquired:
        granted, wait, tokens = await self._redis.client.eval(
            _ACQUIRE, 1, self._key(platform, credential), now, cost, budget.capacity, budget.refill_per_second
        )
        return Acquired(bool(int(granted)), float(wait), float(tokens))

    async def observe(
        self,
        platform: str,
        credential: str,
        now: float,
        *,
        remaining: float | None = None,
        reset_at: float | None = None,
        freeze: bool = False,
    ) -> None:
        """Correct the bucket from a response's rate-limit headers; `freeze` after a 429 or a
        quota error holds every replica until `reset_at`."""
        await self._redis.client.eval(
            _OBSERVE, 1, self._key(platform, credential), now,
            "" if remaining is None else remaining, "" if reset_at is None else reset_at, "1" if freeze else "0",
        )

    async def state(self, platform: str, credential: str) -> BucketState:
        tokens, frozen = await self._redis.client.hmget(self._key(platform, credential), ["tokens", "frozen_until"])
        return BucketState(
            tokens=float(tokens) if tokens is not None else None,
            frozen_until=float(frozen) if frozen is not None else None,
        )
