"""The shared budget against a real Redis: atomic across concurrent callers, refilled by time,
corrected by the platform's headers, frozen by a 429 until the reset."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from sma_common.rate_limit import Budget, SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.settings import RedisSettings

T0 = 1_800_000_000.0
MINUTE = Budget.per_window(calls=800, window_seconds=60)


@pytest.fixture
async def limiter(redis_url: str, redis_prefix: str) -> AsyncIterator[SharedRateLimiter]:
    # A generous timeout: 50 concurrent callers open connections at once on a loaded CI machine.
    settings = RedisSettings(redis_url=redis_url, redis_key_prefix=redis_prefix, redis_socket_timeout_seconds=2.0)
    client = RedisClient(settings, required=True)
    await client.start()
    yield SharedRateLimiter(client)
    await client.stop()


async def test_concurrent_replicas_never_spend_more_than_the_budget(limiter: SharedRateLimiter) -> None:
    budget = Budget(capacity=20, refill_per_second=0)
    results = await asyncio.gather(*(limiter.acquire("twitch", "app", budget, T0) for _ in range(50)))
    assert sum(r.granted for r in results) == 20
    denied = [r for r in results if not r.granted]
    assert all(r.wait_seconds == -1 for r in denied)  # a bucket that never refills says so


async def test_tokens_refill_with_time_and_wait_says_how_long(limiter: SharedRateLimiter) -> None:
    budget = Budget(capacity=2, refill_per_second=0.5)
    assert (await limiter.acquire("bluesky", "-", budget, T0)).granted
    assert (await limiter.acquire("bluesky", "-", budget, T0)).granted
    denied = await limiter.acquire("bluesky", "-", budget, T0)
    assert not denied.granted and denied.wait_seconds == pytest.approx(2.0)
    assert (await limiter.acquire("bluesky", "-", budget, T0 + 2.0)).granted


async def test_platform_headers_lower_our_count_and_zero_remaining_waits_for_reset(
    limiter: SharedRateLimiter,
) -> None:
    assert (await limiter.acquire("x", "bearer", MINUTE, T0)).granted
    await limiter.observe("x", "bearer", T0, remaining=3, reset_at=T0 + 40)
    assert (await limiter.state("x", "bearer")).tokens == 3
    # A higher figure from the platform never raises what we know is spent.
    await limiter.observe("x", "bearer", T0, remaining=500)
    assert (await limiter.state("x", "bearer")).tokens == 3
    await limiter.observe("x", "bearer", T0 + 1, remaining=0, reset_at=T0 + 40)
    frozen = await limiter.acquire("x", "bearer", MINUTE, T0 + 2)
    assert not frozen.granted and frozen.wait_seconds == pytest.approx(38)
    assert (await limiter.acquire("x", "bearer", MINUTE, T0 + 40)).granted


async def test_a_429_freezes_every_replica_until_the_reset(limiter: SharedRateLimiter) -> None:
    await limiter.observe("reddit", "app", T0, reset_at=T0 + 120, freeze=True)
    replicas = await asyncio.gather(*(limiter.acquire("reddit", "app", MINUTE, T0 + 60) for _ in range(50)))
    assert not any(r.granted for r in replicas)
    assert {round(r.wait_seconds) for r in replicas} == {60}
    # An earlier reset reported later never shortens the freeze.
    await limiter.observe("reddit", "app", T0 + 61, reset_at=T0 + 90, freeze=True)
    assert (await limiter.state("reddit", "app")).frozen_until == T0 + 120
    assert (await limiter.acquire("reddit", "app", MINUTE, T0 + 120)).granted


async def test_budgets_are_per_platform_and_credential(limiter: SharedRateLimiter) -> None:
    tiny = Budget(capacity=1, refill_per_second=0)
    assert (await limiter.acquire("twitch", "app-a", tiny, T0)).granted
    assert not (await limiter.acquire("twitch", "app-a", tiny, T0)).granted
    assert (await limiter.acquire("twitch", "app-b", tiny, T0)).granted
    assert (await limiter.acquire("youtube", "app-a", tiny, T0)).granted
