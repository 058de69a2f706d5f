"""Shared platform budgets in Redis: one budget per (platform, scope), used atomically by every
collector and gateway replica, corrected by what the platform itself reports, and held until the
platform's reset time after a 429, a quota error or rejected credentials.

A budget is one of two shapes, matching how the platforms count:
- a token bucket (`window_seconds == 0`), refilled continuously: Twitch's 800 points a minute;
- a fixed window (`window_seconds > 0`): `capacity` calls until the window's end, then full
  again. Platforms with windows (X, Reddit, Bluesky, Mastodon) say in every response when
  theirs ends, and that end replaces our guess, so our windows line up with theirs. YouTube's
  quota window ends at midnight Pacific, which the caller passes as `window_end` (Lua has no
  time zones).

Each budget is one Redis hash (`<prefix>ratelimit:<platform>:<scope>`) with `tokens`,
`updated`, `window_end` (and `window_guessed` until the platform confirms it), `capacity`,
`frozen_until` and `frozen_reason`; a sorted set
(`<prefix>ratelimit-holds:<platform>`) indexes scopes on hold by their end, so readers (the
gateway's `/api/platforms`, the scheduler) see holds without scanning. Every operation is a
Lua script, so concurrent replicas never both spend the last token. Times come from the
caller's clock (replicas are NTP-synchronised; budgets are per minute or per day, far coarser
than clock skew), which keeps the arithmetic testable with a fake clock. Keys expire two
days after their last use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sma_common.redis import RedisClient

# KEYS[1] budget; ARGV: now, cost, capacity, refill/s, window seconds, window end ('' = guess).
# Returns {granted 0/1, wait seconds (-1: never by itself), tokens left, frozen reason}.
_ACQUIRE = """
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'frozen_until', 'window_end', 'frozen_reason')
local now, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, refill, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local hint = tonumber(ARGV[6])
local tokens = tonumber(b[1]) or capacity
local updated = tonumber(b[2]) or now
local frozen = tonumber(b[3]) or 0
local window_end = tonumber(b[4])
if frozen > now then
  return {0, tostring(frozen - now), tostring(tokens), b[5] or ''}
end
local guessed = nil
if window > 0 then
  if window_end == nil then
    window_end, guessed = hint or (now + window), hint == nil
  end
  if now >= window_end then
    tokens = capacity
    if hint ~= nil and hint > now then
      window_end, guessed = hint, false
    else
      window_end, guessed = now + window, true
    end
  end
else
  tokens = math.min(capacity, tokens + math.max(0, now - updated) * refill)
end
local granted, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  granted = 1
elseif window > 0 then
  wait = window_end - now
elseif refill > 0 then
  wait = (cost - tokens) / refill
else
  wait = -1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now), 'capacity', tostring(capacity))
if window > 0 then redis.call('HSET', KEYS[1], 'window_end', tostring(window_end)) end
if guessed ~= nil then redis.call('HSET', KEYS[1], 'window_guessed', guessed and '1' or '0') end
redis.call('EXPIRE', KEYS[1], 172800)
return {granted, tostring(wait), tostring(tokens), ''}
"""

# KEYS[1] budget; ARGV: now, remaining ('' = unknown), reset_at ('' = unknown), window seconds.
# What the platform says wins over our count when it is lower. Its reset replaces the end we
# guessed (`now + window` at our first call, or at our rollover, is later than the platform's);
# a reset older than an end the platform confirmed is a late reply from the previous window and
# is ignored; a reset past our end means the platform has started its next window, full.
_OBSERVE = """
local now, remaining, reset_at = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'window_end', 'window_guessed', 'capacity')
local tokens, window_end = tonumber(b[1]), tonumber(b[2])
if window > 0 and reset_at ~= nil then
  if reset_at <= now or (window_end ~= nil and b[3] ~= '1' and reset_at < window_end - 2) then
    return 0
  end
  if window_end ~= nil and reset_at > window_end + 2 and tonumber(b[4]) ~= nil then
    tokens = tonumber(b[4])
    redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
  end
  redis.call('HSET', KEYS[1], 'window_end', tostring(reset_at), 'window_guessed', '0')
end
if remaining ~= nil and (tokens == nil or remaining < tokens) then
  redis.call('HSET', KEYS[1], 'tokens', tostring(remaining), 'updated', tostring(now))
end
redis.call('EXPIRE', KEYS[1], 172800)
return 1
"""

# KEYS[1] budget, KEYS[2] the platform's holds; ARGV: until, reason, scope.
# A hold only ever grows: an earlier reset reported later never shortens it.
_HOLD = """
local held_until = tonumber(ARGV[1])
local frozen = tonumber(redis.call('HGET', KEYS[1], 'frozen_until')) or 0
if held_until > frozen then
  redis.call('HSET', KEYS[1], 'frozen_until', tostring(held_until), 'frozen_reason', ARGV[2])
  redis.call('ZADD', KEYS[2], held_until, ARGV[3])
end
redis.call('EXPIRE', KEYS[1], 172800)
redis.call('EXPIRE', KEYS[2], 172800)
return 1
"""


@dataclass(frozen=True, slots=True)
class Budget:
    """A platform's documented limit: `capacity` calls (or quota units) per `window_seconds`,
    counted as a fixed window, or refilled evenly when `bucket` (window 0 in Redis)."""

    capacity: float
    window_seconds: float
    bucket: bool = False

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.window_seconds if self.bucket else 0.0

    @classmethod
    def token_bucket(cls, calls: float, window_seconds: float) -> Budget:
        return cls(capacity=calls, window_seconds=window_seconds, bucket=True)

    @classmethod
    def fixed_window(cls, calls: float, window_seconds: float) -> Budget:
        return cls(capacity=calls, window_seconds=window_seconds)


@dataclass(frozen=True, slots=True)
class Acquired:
    granted: bool
    wait_seconds: float  # before asking again; -1 when the budget never refills by itself
    tokens_left: float
    held_for: str | None = None  # the hold's reason when a hold refused the call


@dataclass(frozen=True, slots=True)
class Hold:
    scope: str
    until: float
    reason: str | None


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget as stored (None: never used, or expired)."""

    tokens: float | None
    capacity: float | None
    window_end: float | None
    frozen_until: float | None
    frozen_reason: str | None
    updated: float | None = None

    def remaining(self, budget: Budget, now: float) -> float:
        """What is left to spend at `now`: refilled (bucket) or renewed (window ended)."""
        if self.tokens is None:
            return budget.capacity
        if budget.bucket:
            elapsed = max(0.0, now - (self.updated or now))
            return min(budget.capacity, self.tokens + elapsed * budget.refill_per_second)
        if self.window_end is not None and now >= self.window_end:
            return budget.capacity
        return self.tokens

    def held(self, now: float) -> bool:
        return self.frozen_until is not None and self.frozen_until > now


class SharedRateLimiter:
    """Atomic per-(platform, scope) budgets shared by every replica through Redis."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    def _key(self, platform: str, scope: str) -> str:
        return self._redis.key("ratelimit", platform, scope)

    def _holds_key(self, platform: str) -> str:
        return self._redis.key("ratelimit-holds", platform)

    async def acquire(
        self, platform: str, scope: str, budget: Budget, now: float, *, cost: float = 1,
        window_end: float | None = None,
    ) -> Acquired:
        """Spend `cost` from the budget if it has it; otherwise say how long to wait."""
        window = 0 if budget.bucket else budget.window_seconds
        granted, wait, tokens, reason = await self._redis.client.eval(
            _ACQUIRE, 1, self._key(platform, scope), now, cost, budget.capacity, budget.refill_per_second, window,
            "" if window_end is None else window_end,
        )
        return Acquired(bool(int(granted)), float(wait), float(tokens), _text(reason))

    async def observe(
        self, platform: str, scope: str, budget: Budget, now: float, *,
        remaining: float | None = None, reset_at: float | None = None,
    ) -> None:
        """Correct the budget from a response's rate-limit headers."""
        window = 0 if budget.bucket else budget.window_seconds
        await self._redis.client.eval(
            _OBSERVE, 1, self._key(platform, scope), now,
            "" if remaining is None else remaining, "" if reset_at is None else reset_at, window,
        )

    async def hold(self, platform: str, scope: str, until: float, reason: str) -> None:
        """Refuse every replica's calls on this budget until `until` (a 429, a spent quota,
        rejected credentials)."""
        await self._redis.client.eval(
            _HOLD, 2, self._key(platform, scope), self._holds_key(platform), until, reason, scope
        )

    async def holds(self, platform: str, now: float) -> list[Hold]:
        """The platform's scopes on hold at `now`, soonest end first."""
        key = self._holds_key(platform)
        client = self._redis.client
        await client.zremrangebyscore(key, "-inf", now)
        held = cast(list[tuple[bytes, float]], await client.zrange(key, 0, 99, withscores=True))
        holds = []
        for raw_scope, until in held:
            scope = _text(raw_scope) or ""
            holds.append(Hold(scope, float(until), (await self.state(platform, scope)).frozen_reason))
        return holds

    async def state(self, platform: str, scope: str) -> BudgetState:
        values = await self._redis.client.hmget(
            self._key(platform, scope),
            ["tokens", "capacity", "window_end", "frozen_until", "frozen_reason", "updated"],
        )
        tokens, capacity, window_end, frozen, reason, updated = values
        return BudgetState(_number(tokens), _number(capacity), _number(window_end), _number(frozen), _text(reason),
                           _number(updated))


def _number(value: bytes | str | None) -> float | None:
    return float(value) if value is not None else None


def _text(value: bytes | str | None) -> str | None:
    if value is None or value in (b"", ""):
        return None
    return value.decode() if isinstance(value, bytes) else value
