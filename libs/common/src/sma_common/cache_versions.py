"""Per-account cache versions: the contract between whoever writes an account's data (the
collector) and whoever caches reads of it (the gateway).

Cached values live under keys that include the account's version number; bumping the version
(one `INCR`) makes every cached value of the account unreachable at once, with no `KEYS` or
`SCAN`, and entries under old versions expire on their own TTL. Redis is a cache here: when it
fails, callers skip it for a while (`RedisBreaker`) instead of paying a timeout per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import structlog
from redis.exceptions import RedisError

from sma_common.redis import RedisClient

log = structlog.get_logger(__name__)

REDIS_FAILURES = (RedisError, OSError, TimeoutError)


class RedisBreaker:
    """Open for `open_seconds` after a failure: while open, callers skip Redis entirely."""

    def __init__(self, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._open_seconds = open_seconds
        self._clock = clock
        self._open_until = 0.0

    def allows(self) -> bool:
        return self._clock() >= self._open_until

    def trip(self) -> None:
        self._open_until = self._clock() + self._open_seconds


def account_version_key(redis: RedisClient, account_id: int) -> str:
    return redis.key("cache", "acct", str(account_id), "v")


async def bump_account_versions(redis: RedisClient, breaker: RedisBreaker, account_ids: Iterable[int]) -> bool:
    """Invalidate the accounts' cached reads. Best effort: False (and the breaker tripped) when
    Redis failed; cached values then age out on their TTL."""
    ids = sorted(set(account_ids))
    if not ids or not breaker.allows():
        return not ids
    try:
        async with redis.client.pipeline(transaction=False) as pipe:
            for account_id in ids:
                pipe.incr(account_version_key(redis, account_id))
            await pipe.execute()
    except REDIS_FAILURES as exc:
        breaker.trip()
        log.warning("cache.invalidation_failed", error=repr(exc), accounts=len(ids))
        return False
    return True
