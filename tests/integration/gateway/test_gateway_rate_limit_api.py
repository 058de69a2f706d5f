"""Per-API-key rate limiting on /api/*: token buckets in Redis, 429 with Retry-After, RateLimit-*
headers, per-key overrides, ops routes never limited, and fail-open without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.integration.gateway.conftest import _started
from tests.integration.gateway.harness import Gateway, RunService, create_api_key, gateway_settings

PROBLEM = "application/problem+json"
BURST = 3


@pytest.fixture
async def limited(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    """A bucket of 3 refilled at 6 a minute (one every 10 s), so nothing refills mid-test."""
    overrides = {"overrid1": 1}
    settings = gateway_settings(
        database_url, redis_url, redis_key_prefix=redis_prefix, api_rate_limit_per_minute=6,
        api_rate_limit_burst=BURST, api_rate_limit_overrides=overrides,
    )
    async for started in _started(settings, run_service, db):
        yield started


async def test_key_over_its_burst_gets_429_problem_and_others_are_unaffected(limited: Gateway) -> None:
    for _ in range(BURST):
        assert (await limited.call("GET", "/api/jobs", scope="read")).status == 200
    reply = await limited.call("GET", "/api/jobs", scope="read")
    assert reply.status == 429
    assert reply.content_type == PROBLEM
    body = reply.json()
    assert body["type"] == "urn:sma:problem:rate-limited" and body["status"] == 429
    assert 1 <= int(reply.headers["Retry-After"]) <= 10
    assert reply.headers["RateLimit-Remaining"] == "0"
    # Another key has its own bucket.
    assert (await limited.call("GET", "/api/jobs", scope="write")).status == 200


async def test_headers_on_every_api_response_decrease(limited: Gateway) -> None:
    remaining = []
    for _ in range(BURST):
        reply = await limited.call("GET", "/api/jobs", scope="admin")
        assert reply.status == 200
        assert reply.headers["RateLimit-Limit"] == str(BURST)
        assert reply.headers["RateLimit-Policy"] == f"{BURST};w=30"
        assert int(reply.headers["RateLimit-Reset"]) > 0
        remaining.append(int(reply.headers["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    # Errors the handler raises carry them too.
    missing = await limited.call("GET", "/api/jobs/00000000-0000-0000-0000-000000000000", scope="read")
    assert missing.status in (404, 422) and "RateLimit-Remaining" in missing.headers


async def test_per_key_override_applies(limited: Gateway, db: asyncpg.Pool) -> None:
    token = await create_api_key(db, ["read"], name="override")
    # The override keys on the prefix, so give this key the configured one.
    prefix = token.split("_")[1]
    await db.execute("UPDATE api_keys SET prefix = 'overrid1' WHERE prefix = $1", prefix)
    headers = {"Authorization": f"Bearer {token.replace(prefix, 'overrid1', 1)}"}
    first = await limited.call("GET", "/api/jobs", scope=None, headers=headers)
    assert first.status == 200 and first.headers["RateLimit-Limit"] == "1"
    second = await limited.call("GET", "/api/jobs", scope=None, headers=headers)
    assert second.status == 429 and int(second.headers["Retry-After"]) == 60


async def test_ops_routes_are_never_limited(limited: Gateway) -> None:
    for _ in range(BURST + 2):
        for path in ("/health/live", "/health/ready", "/livez", "/readyz", "/metrics"):
            reply = await limited.call("GET", path, scope="read")
            assert reply.status == 200, path
            assert "RateLimit-Limit" not in reply.headers


async def test_unauthenticated_requests_are_401_not_limited(limited: Gateway) -> None:
    for _ in range(BURST + 1):
        assert (await limited.call("GET", "/api/jobs", scope=None)).status == 401


async def test_without_redis_requests_are_served_unlimited(gateway_without_redis: Gateway) -> None:
    for _ in range(120):  # over the default burst of 100
        reply = await gateway_without_redis.call("GET", "/api/jobs", scope="read")
        assert reply.status == 200


async def test_leases_spare_redis_round_trips_but_never_loosen_the_limit(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> None:
    """A bucket of 200 (leases of 10) that does not refill mid-test, shared by two replicas: a
    burst of 300 gets at most 200 through, with far fewer than 300 trips to Redis (refusals
    are remembered too)."""
    settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix,
                                api_rate_limit_per_minute=1, api_rate_limit_burst=200)
    token = await create_api_key(db, ["read"], name="leased")
    headers = {"Authorization": f"Bearer {token}"}
    client = aioredis.Redis.from_url(redis_url)
    replicas = [_started(settings, run_service, db) for _ in range(2)]
    try:
        a, b = [await anext(replica) for replica in replicas]
        calls_before = await _script_calls(client)
        replies = await asyncio.gather(*(
            (a if i % 2 else b).call("GET", "/api/jobs", scope=None, headers=headers) for i in range(300)))
        statuses = [reply.status for reply in replies]
        assert set(statuses) <= {200, 429}
        assert 180 <= statuses.count(200) <= 200
        assert await _script_calls(client) - calls_before < 60
    finally:
        for replica in replicas:
            await replica.aclose()
        await client.aclose()


async def _script_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_eval", "cmdstat_evalsha"))
