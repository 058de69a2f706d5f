"""Per-account cache versions: the contract between whoever writes an account's data (the
collector) and whoever caches reads of it (the gateway).

Cached values live under keys that include the account's version number; bumping the version
(one `INCR`) makes every cached value of the account unreachable at once, with no `KEYS` or
`SCAN`, and entries under old versions expire on their own TTL. Redis is a cache here: when it
fails, callers skip it for a while (`RedisBreaker`) instead of paying a timeout per call.

Every bump is also published on one pub/sub channel (`cache:events`), so gateways that keep an
in-process copy of hot values drop the account's entries at once instead of asking Redis for
the version on every read. Messages are `acct:<id>,<id>,...` and `key:<prefix>` (an API key was
revoked or changed: drop any verified copy of it).
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


def events_channel(redis: RedisClient) -> str:
    return redis.key("cache", "events")


def account_event(account_ids: Iterable[int]) -> bytes:
    return b"acct:" + ",".join(str(account_id) for account_id in account_ids).encode()


def key_event(prefix: str) -> bytes:
    return b"key:" + prefix.encode()


def parse_event(message: bytes) -> tuple[str, list[str]]:
    """("acct", ids) or ("key", [prefix]); ("", []) for anything else (ignored by readers)."""
    kind, _, rest = message.partition(b":")
    if kind not in (b"acct", b"key") or not rest:
        return "", []
    return kind.decode(), rest.decode(errors="replace").split(",")


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
            pipe.publish(events_channel(redis), account_event(ids))
            await pipe.execute()
    except REDIS_FAILURES as exc:
        breaker.trip()
        log.warning("cache.invalidation_failed", error=repr(exc), accounts=len(ids))
        return False
    return True


async def publish_key_event(redis: RedisClient, prefix: str) -> bool:
    """Tell every gateway to forget its verified copy of the key; False when Redis failed (the
    copies then expire on their own short TTL)."""
    try:
        await redis.client.publish(events_channel(redis), key_event(prefix))
    except REDIS_FAILURES as exc:
        log.warning("cache.key_event_failed", error=repr(exc))
        return False
    return True
