"""The read-through cache in front of Postgres: versioned keys, TTL, single-flight loading and a
circuit breaker that serves from Postgres while Redis is failing.

Keys (under the Redis key prefix):

- `cache:acct:<account_id>:v` holds the account's version number (`sma_common.cache_versions`):
  the collector bumps it when it writes the account's points, so a new point is visible at once,
  not after the TTL. No write ever needs `KEYS` or `SCAN`; entries under old versions expire on
  their own TTL.
- `cache:acct:<account_id>:v<version>:<sha256 of the variant>` holds one cached value (bytes).

In front of Redis sits the in-process tier (`sma_gateway.local_cache`, result `local`): while the
invalidation subscription is live, a hot value is served from memory with no round trip at all.

Concurrent reads of one value that this process does not hold share one Redis read and, on a
miss, one load (result `coalesced` for the ones that wait). After a Redis error, reads skip
Redis for `retry_after_failure_seconds` (result `bypass`), then try it again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import structlog

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker, account_version_key, bump_account_versions
from sma_common.redis import RedisClient
from sma_gateway.http_policies import body_etag
from sma_gateway.local_cache import LocalEntry, LocalTier
from sma_gateway.metrics import CacheResult

log = structlog.get_logger(__name__)

CacheOutcome = Literal["local", "hit", "miss", "bypass"]
Loader = Callable[[], Awaitable[bytes]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheRead:
    value: bytes
    outcome: CacheOutcome
    etag: str


class SingleFlight(Generic[T]):
    """At most one running load per key; later callers for that key await the same result.

    The load runs in its own task, so a caller that disconnects does not cancel it for the others.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    def running(self, key: str) -> bool:
        return key in self._inflight

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._load(load), name=f"singleflight:{key}")
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    @staticmethod
    async def _load(load: Callable[[], Awaitable[T]]) -> T:
        return await load()

    def _forget(self, key: str, task: asyncio.Task[T]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody awaited is not reported as lost


class ReadThroughCache:
    """Values (bytes) per account and variant; see the module docstring for keys and failure modes."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        ttl_seconds: float,
        breaker: RedisBreaker,
        record: Callable[[CacheResult], None],
        local: LocalTier,
    ) -> None:
        self._local = local
        self._redis = redis
        self._ttl_ms = max(int(ttl_seconds * 1000), 1)
        self._breaker = breaker
        self._record = record
        # Concurrent reads of one value that missed this process's tier share one Redis read and, on
        # a miss, one load: at a TTL expiry under load, every request in flight misses at once, and
        # one Redis connection each would exhaust the pool.
        self._reads: SingleFlight[CacheRead] = SingleFlight()

    def _version_key(self, account_id: int) -> str:
        return account_version_key(self._redis, account_id)

    def _value_key(self, account_id: int, version: int, variant: str) -> str:
        digest = hashlib.sha256(variant.encode()).hexdigest()[:32]
        return self._redis.key("cache", "acct", str(account_id), f"v{version}", digest)

    def local(self, account_id: int, variant: str) -> LocalEntry | None:
        """The value in this process's tier, if any (none while Redis is being skipped)."""
        return self._local.get(account_id, variant) if self._breaker.allows() else None

    def record_local(self) -> None:
        self._record("local")

    async def read(self, account_id: int, variant: str, load: Loader) -> CacheRead:
        """The cached value, or `load()`'s result (stored for the TTL when Redis works)."""
        entry = self.local(account_id, variant)
        if entry is not None:
            self.record_local()
            return CacheRead(entry.value, "local", entry.etag)
        key = f"{account_id}|{variant}"
        if self._reads.running(key):
            self._record("coalesced")
        return await self._reads.run(key, lambda: self._read_through(account_id, variant, load))

    async def _read_through(self, account_id: int, variant: str, load: Loader) -> CacheRead:
        seen = self._local.generation(account_id)
        value, outcome = await self._read_shared(account_id, variant, load)
        etag = body_etag(value)
        if outcome != "bypass":
            self._local.store(account_id, variant, value, etag, seen)
        return CacheRead(value, outcome, etag)

    async def _read_shared(self, account_id: int, variant: str, load: Loader) -> tuple[bytes, CacheOutcome]:
        if not self._breaker.allows():
            self._record("bypass")
            return await load(), "bypass"
        try:
            raw_version = await self._redis.client.get(self._version_key(account_id))
            key = self._value_key(account_id, int(raw_version or 0), variant)
            cached = await self._redis.client.get(key)
        except REDIS_FAILURES as exc:
            self._fail(exc)
            self._record("error")
            return await load(), "bypass"
        if cached is not None:
            self._record("hit")
            return (cached.encode() if isinstance(cached, str) else cached), "hit"
        self._record("miss")
        return await self._load_and_store(key, load), "miss"

    async def _load_and_store(self, key: str, load: Loader) -> bytes:
        value = await load()
        try:
            await self._redis.client.set(key, value, px=self._ttl_ms)
        except REDIS_FAILURES as exc:
            self._fail(exc)
        return value

    async def invalidate_account(self, account_id: int) -> None:
        """Make every cached value of the account unreachable here at once and, through one `INCR`
        and its published event, everywhere else; Redis failures only log."""
        self._local.drop_account(account_id)
        await bump_account_versions(self._redis, self._breaker, [account_id])

    def _fail(self, exc: BaseException) -> None:
        self._breaker.trip()
        log.warning("cache.redis_failed", error=repr(exc))

    def details(self) -> dict[str, object]:
        return {
            "redis_skipped": not self._breaker.allows(), "reads_in_flight": len(self._reads),
            "local": self._local.details(),
        }
