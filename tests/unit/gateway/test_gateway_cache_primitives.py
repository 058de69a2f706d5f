import asyncio

import pytest

from sma_common.cache_versions import RedisBreaker
from sma_gateway.cache import SingleFlight


async def test_concurrent_calls_for_one_key_load_once() -> None:
    flights = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await release.wait()
        return b"value"

    waiters = [asyncio.create_task(flights.run("k", load)) for _ in range(5)]
    await asyncio.sleep(0)
    assert len(flights) == 1
    release.set()
    assert await asyncio.gather(*waiters) == [b"value"] * 5
    assert calls == 1
    assert len(flights) == 0


async def test_different_keys_load_separately_and_later_calls_load_again() -> None:
    flights = SingleFlight()
    calls: list[str] = []

    async def load_for(key: str) -> bytes:
        calls.append(key)
        return key.encode()

    assert await asyncio.gather(flights.run("a", lambda: load_for("a")), flights.run("b", lambda: load_for("b"))) \
        == [b"a", b"b"]
    assert await flights.run("a", lambda: load_for("a")) == b"a"
    assert calls == ["a", "b", "a"]


async def test_a_failure_reaches_every_waiter_and_is_not_remembered() -> None:
    flights = SingleFlight()
    release = asyncio.Event()

    async def failing() -> bytes:
        await release.wait()
        raise LookupError("gone")

    waiters = [asyncio.create_task(flights.run("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)

    async def works() -> bytes:
        return b"ok"

    assert await flights.run("k", works) == b"ok"


async def test_a_cancelled_waiter_does_not_cancel_the_load_for_others() -> None:
    flights = SingleFlight()
    release = asyncio.Event()

    async def load() -> bytes:
        await release.wait()
        return b"v"

    first = asyncio.create_task(flights.run("k", load))
    second = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == b"v"
    with pytest.raises(asyncio.CancelledError):
        await first


def test_breaker_opens_for_its_window_after_a_failure() -> None:
    now = [0.0]
    breaker = RedisBreaker(5.0, clock=lambda: now[0])
    assert breaker.allows()
    breaker.trip()
    assert not breaker.allows()
    now[0] = 4.9
    assert not breaker.allows()
    now[0] = 5.0
    assert breaker.allows()
    breaker.trip()
    assert not breaker.allows()
