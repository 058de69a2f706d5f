"""Keeps this gateway's in-process copies coherent with every other writer, through one Redis
pub/sub subscription to the cache events channel (`sma_common.cache_versions`).

While subscribed, `acct:` events drop the accounts' entries from the local tier and `key:` events
drop a verified API key. When the subscription is (re)established or lost, everything local is
forgotten (messages may have been missed), and the local tiers stay off until it is back: then
every read goes to Redis (or, with Redis down, to Postgres) as if there were no local tier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker, events_channel, parse_event
from sma_common.redis import RedisClient
from sma_gateway.local_cache import LocalTier

log = structlog.get_logger(__name__)

_RETRY_MIN_SECONDS = 0.2
_RETRY_MAX_SECONDS = 5.0
# A silent subscription is pinged this often; no answer means the connection is gone.
_PING_SECONDS = 5.0


class Coherence:
    """The subscriber loop (a service loop) and the listeners it feeds."""

    def __init__(self, redis: RedisClient, breaker: RedisBreaker, tier: LocalTier) -> None:
        self._redis = redis
        self._breaker = breaker
        self._tier = tier
        self._key_listeners: list[Callable[[str | None], None]] = []
        self.subscribed = False

    def on_key_event(self, listener: Callable[[str | None], None]) -> None:
        """`listener(prefix)` on a key event, `listener(None)` when every key must be forgotten."""
        self._key_listeners.append(listener)

    async def run(self, stopping: asyncio.Event) -> None:
        delay = _RETRY_MIN_SECONDS
        while not stopping.is_set():
            try:
                await self._subscribe_and_listen(stopping)
                delay = _RETRY_MIN_SECONDS
            except REDIS_FAILURES as exc:
                log.warning("coherence.subscription_lost", error=repr(exc), retry_in=delay)
                self._breaker.trip()
            finally:
                self._set_subscribed(False)
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, _RETRY_MAX_SECONDS)

    async def _subscribe_and_listen(self, stopping: asyncio.Event) -> None:
        pubsub = self._redis.client.pubsub()
        try:
            await pubsub.subscribe(events_channel(self._redis))
            confirmed = await pubsub.get_message(timeout=_PING_SECONDS)
            if confirmed is None or confirmed.get("type") != "subscribe":
                raise TimeoutError("no subscribe confirmation")
            self._set_subscribed(True)
            quiet_since = asyncio.get_running_loop().time()
            pinged = False
            while not stopping.is_set():
                message = await pubsub.get_message(timeout=1.0)
                now = asyncio.get_running_loop().time()
                if message is None:
                    if now - quiet_since > 2 * _PING_SECONDS:
                        raise TimeoutError("the subscription stopped answering pings")
                    if now - quiet_since > _PING_SECONDS and not pinged:
                        await pubsub.ping()
                        pinged = True
                    continue
                quiet_since, pinged = now, False
                if message.get("type") == "message":
                    self._dispatch(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, data: bytes) -> None:
        kind, values = parse_event(data)
        if kind == "acct":
            for value in values:
                if value.isdigit():
                    self._tier.drop_account(int(value))
        elif kind == "key":
            for listener in self._key_listeners:
                listener(values[0])

    def _set_subscribed(self, subscribed: bool) -> None:
        if subscribed == self.subscribed:
            return
        self.subscribed = subscribed
        self._tier.reset(enabled=subscribed)
        for listener in self._key_listeners:
            listener(None)
        log.info("coherence.subscribed" if subscribed else "coherence.unsubscribed")

    def details(self) -> dict[str, object]:
        return {"subscribed": self.subscribed, "local": self._tier.details()}
