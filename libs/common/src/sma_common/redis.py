"""The Redis client as a service resource, with short timeouts: Redis is a cache here, and a
slow cache must never be slower than the database behind it."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sma_common.health import Check, CheckFailed, Severity
from sma_common.retry import RetryPolicy
from sma_common.settings import RedisSettings


class RedisClient:
    """Owns one `redis.asyncio.Redis`. With `required=False` a Redis that is down at start-up
    does not stop the service (the gateway serves from Postgres, degraded)."""

    name = "redis"

    def __init__(self, settings: RedisSettings, *, required: bool, check_severity: Severity = "fail") -> None:
        self._settings = settings
        self._required = required
        self._severity: Severity = check_severity
        self._client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("redis client is not started")
        return self._client

    def key(self, *parts: str) -> str:
        return self._settings.redis_key_prefix + ":".join(parts)

    async def start(self) -> None:
        s = self._settings
        self._client = aioredis.Redis.from_url(
            s.redis_url.get_secret_value(),
            socket_timeout=s.redis_socket_timeout_seconds,
            socket_connect_timeout=s.redis_socket_timeout_seconds,
            max_connections=64,
            decode_responses=False,
        )
        if self._required:
            await RetryPolicy(on=(RedisError, OSError), max_attempts=1000, max_elapsed=30.0).call(
                self._client.ping, what="redis.connect"
            )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def check(self) -> Check:
        async def probe() -> str | None:
            try:
                await self.client.ping()
            except (RedisError, OSError) as exc:
                raise CheckFailed(f"{type(exc).__name__}: {exc}") from exc
            return None

        return Check("redis", probe, severity=self._severity, timeout_seconds=1.0)
