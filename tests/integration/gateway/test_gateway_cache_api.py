"""The gateway's cache as clients and operators see it, on real Postgres and Redis: hits from
memory, coherence between replicas through Redis pub/sub (a write is visible on the next read),
conditional GETs, and Redis stopped and restarted under a running gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from sma_common.cache_versions import RedisBreaker, bump_account_versions
from sma_common.redis import RedisClient
from sma_devstack import EmbeddedRedis, free_port
from sma_gateway import state
from sma_gateway.app import build
from tests.integration.gateway.harness import (
    Gateway,
    Reply,
    RunService,
    Seeder,
    create_api_key,
    gateway_settings,
    subscribed,
    until,
)


def _values(reply: Reply) -> list[float]:
    assert reply.status == 200, reply.body
    return [point["value"] for point in reply.json()]


def _ago(minutes: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


async def test_replicas_share_redis_and_serve_hot_reads_from_memory(
    replicas: tuple[Gateway, Gateway], seed: Seeder
) -> None:
    a, b = replicas
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(_ago(30), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    first, second, third = [await gw.call("GET", path, scope="read") for gw in (a, b, a)]
    assert [r.headers["X-Cache"] for r in (first, second, third)] == ["miss", "hit", "local"]
    assert first.body == second.body == third.body
    assert first.headers["ETag"] == second.headers["ETag"] == third.headers["ETag"]


async def test_a_collector_write_is_visible_on_every_replica(
    replicas: tuple[Gateway, Gateway], seed: Seeder, redis_url: str, redis_prefix: str
) -> None:
    a, b = replicas
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(_ago(30), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    for gw in (a, b, a, b):  # both replicas now hold the series in memory
        assert _values(await gw.call("GET", path, scope="read")) == [1.0]
    assert (await b.call("GET", path, scope="read")).headers["X-Cache"] == "local"

    # What a collector does after writing points: bump the account's version (INCR + publish).
    await seed.points(account_id, "followers", [(_ago(1), 2.0)])
    writer = RedisClient(gateway_settings("postgresql://unused/x", redis_url, redis_key_prefix=redis_prefix),
                         required=True)
    await writer.start()
    try:
        assert await bump_account_versions(writer, RedisBreaker(1.0), [account_id])
    finally:
        await writer.stop()

    async def both_fresh() -> bool:
        replies = [await gw.call("GET", path, scope="read") for gw in (a, b)]
        return all(_values(reply) == [1.0, 2.0] for reply in replies)

    await until(both_fresh, timeout=2.0)  # the published event, not the 30 s TTL


async def test_conditional_get_answers_304_until_the_data_changes(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(_ago(30), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    first = await gateway.call("GET", path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"

    unchanged = await gateway.call("GET", path, headers={"If-None-Match": etag})
    assert unchanged.status == 304 and unchanged.body == b"" and unchanged.headers["ETag"] == etag
    assert (await gateway.call("GET", path, headers={"If-None-Match": f'W/{etag}, "other"'})).status == 304
    assert (await gateway.call("GET", path, headers={"If-None-Match": '"stale"'})).status == 200

    await seed.points(account_id, "followers", [(_ago(1), 2.0)])
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    changed = await gateway.call("GET", path, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag and _values(changed) == [1.0, 2.0]

    # Uncached lists get a validator too.
    jobs = await gateway.call("GET", "/api/jobs")
    assert (await gateway.call("GET", "/api/jobs", headers={"If-None-Match": jobs.headers["ETag"]})).status == 304


async def test_redis_stopped_mid_test_then_back(
    tmp_path: Path, database_url: str, run_service: RunService, db: asyncpg.Pool, seed: Seeder
) -> None:
    port = free_port()
    redis = EmbeddedRedis(port, tmp_path / "redis-1")
    await redis.start()
    settings = gateway_settings(database_url, redis.url, cache_redis_retry_seconds=0.5)
    service = build(settings)
    token = await create_api_key(db, ["read"], name="redis-outage")
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(_ago(30), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    try:
        async with run_service(service) as url, aiohttp.ClientSession() as http:
            gateway = Gateway(url, http, service, tokens={"read": token})

            async def readiness() -> str:
                return str((await gateway.call("GET", "/health/ready", scope=None)).json()["status"])

            await until(lambda: subscribed(gateway))
            assert await readiness() == "ok"
            assert _values(await gateway.call("GET", path, scope="read")) == [1.0]

            await redis.stop()
            await until(lambda: _is(readiness, "degraded"))
            latencies = []
            for _ in range(50):  # every read still answers, from Postgres, without waiting on Redis
                started = asyncio.get_running_loop().time()
                reply = await gateway.call("GET", path, scope="read")
                latencies.append(asyncio.get_running_loop().time() - started)
                assert _values(reply) == [1.0] and reply.headers["X-Cache"] in ("bypass", "local")
            assert sorted(latencies)[-2] < 0.25  # no per-request timeout once the breaker is open
            await seed.points(account_id, "followers", [(_ago(1), 2.0)])
            assert _values(await gateway.call("GET", path, scope="read")) == [1.0, 2.0]  # nothing stale

            redis = EmbeddedRedis(port, tmp_path / "redis-2")
            await redis.start()
            await until(lambda: _is(readiness, "ok"))
            await until(lambda: subscribed(gateway))

            async def cached_again() -> bool:
                return (await gateway.call("GET", path, scope="read")).headers["X-Cache"] in ("hit", "local")

            await until(cached_again)
    finally:
        await redis.stop()


async def _is(probe: Callable[[], Awaitable[str]], expected: str) -> bool:
    return await probe() == expected


async def test_a_burst_on_a_value_not_in_memory_costs_one_redis_read(
    replicas: tuple[Gateway, Gateway], seed: Seeder
) -> None:
    """At a TTL expiry under load every request in flight misses the in-process tier at once: they
    share one Redis read instead of each taking a connection (a pool of 64 ran out, and the
    breaker then sent every read to Postgres for seconds)."""
    a, b = replicas
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(_ago(30), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    assert (await a.call("GET", path, scope="read")).headers["X-Cache"] == "miss"  # now in Redis
    replies = await asyncio.gather(*[b.call("GET", path, scope="read") for _ in range(90)])  # within the burst of 100
    assert [reply.status for reply in replies] == [200] * 90
    assert b.cache_count("error") == 0 and b.cache_count("bypass") == 0
    assert b.cache_count("hit") == 1  # the others shared it (`coalesced`) or found it in memory (`local`)
