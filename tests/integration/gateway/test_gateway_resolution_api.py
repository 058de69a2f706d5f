"""Hour/day series served from the rollup tables where maintenance has rolled them up and from the
points after that: the same figures as a direct GROUP BY over the points, before, during and after
rollups, across the seam and across pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from sma_common.platforms import METRIC_IDS
from sma_gateway import state
from sma_maintenance.operations import refresh_rollups
from tests.integration.gateway.harness import Gateway, Seeder

NOW = datetime.now(UTC)
# Yesterday's and today's partitions exist in a freshly migrated database.
ORIGIN = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC) - timedelta(days=1)
Bucket = tuple[datetime, float, float, float, float, float, int]

DIRECT = """
SELECT date_trunc($3, ts, 'UTC') AS bucket, (array_agg(value ORDER BY ts DESC))[1] AS value,
       min(value), max(value), (array_agg(value ORDER BY ts))[1] AS first,
       (array_agg(value ORDER BY ts DESC))[1] AS last, count(*)::int
FROM metric_points WHERE account_id = $1 AND metric = $2
GROUP BY 1 ORDER BY 1
"""


def wobble(i: int) -> float:
    """Values that go up and down, so min/max/first/last all differ within a bucket."""
    return 1000.0 + i * 3 + (i * 37 % 11) - 5


async def seed_series(seed: Seeder, account_id: int) -> None:
    moments = []
    at = ORIGIN + timedelta(minutes=3)
    while at < NOW - timedelta(seconds=30):
        moments.append(at)
        at += timedelta(minutes=7)
    await seed.points(account_id, "followers", [(ts, wobble(i)) for i, ts in enumerate(moments)])
    await seed.points(account_id, "posts", [(ts, float(i)) for i, ts in enumerate(moments[::5])])


async def direct(db: asyncpg.Pool, account_id: int, unit: str) -> list[Bucket]:
    rows = await db.fetch(DIRECT, account_id, METRIC_IDS["followers"], unit)
    return [tuple(r) for r in rows]  # type: ignore[misc]


def as_buckets(body: list[dict[str, Any]]) -> list[Bucket]:
    return [
        (datetime.fromisoformat(b["ts"]), b["value"], b["min"], b["max"], b["first"], b["last"], b["count"])
        for b in body
    ]


async def served(gateway: Gateway, account_id: int, unit: str, extra: str = "") -> list[Bucket]:
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    path = f"/api/accounts/{account_id}/metrics?metric=followers&resolution={unit}&from={ORIGIN.isoformat()}"
    reply = await gateway.call("GET", path.replace("+", "%2B") + extra, scope="read")
    assert reply.status == 200, reply.body
    return as_buckets(reply.json())


async def watermark(db: asyncpg.Pool, name: str) -> datetime | None:
    value = await db.fetchval("SELECT value::timestamptz FROM maintenance_state WHERE name = $1", name)
    return value if value is None else value.astimezone(UTC)


@pytest.mark.parametrize("unit", ["hour", "day"])
async def test_buckets_equal_a_direct_group_by_before_during_and_after_rollups(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool, unit: str
) -> None:
    account_id = await seed.account()
    await seed_series(seed, account_id)
    expected = await direct(db, account_id, unit)
    assert len(expected) >= (2 if unit == "day" else 24)

    assert await served(gateway, account_id, unit) == expected  # nothing rolled up yet

    # Rolled up to mid-yesterday only: rollups before the watermark, points after it.
    async with db.acquire() as conn:
        await refresh_rollups(conn, now=ORIGIN + timedelta(hours=13, minutes=20))
    assert await watermark(db, "rollups_hourly") == ORIGIN + timedelta(hours=13)
    assert await served(gateway, account_id, unit) == expected

    async with db.acquire() as conn:
        await refresh_rollups(conn)
    hourly_mark, daily_mark = await watermark(db, "rollups_hourly"), await watermark(db, "rollups_daily")
    assert hourly_mark is not None and hourly_mark >= NOW.replace(minute=0, second=0, microsecond=0)
    assert daily_mark is not None and daily_mark >= ORIGIN + timedelta(days=1)
    assert await served(gateway, account_id, unit) == expected


async def test_rolled_buckets_come_from_the_rollups(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    account_id = await seed.account()
    await seed_series(seed, account_id)
    expected = await direct(db, account_id, "hour")
    async with db.acquire() as conn:
        await refresh_rollups(conn, now=ORIGIN + timedelta(hours=10, minutes=5))
    # Points of rolled hours gone (as retention would drop them): those buckets still come back,
    # from the rollups; the rest still from the points.
    await db.execute("DELETE FROM metric_points WHERE account_id = $1 AND ts < $2",
                     account_id, ORIGIN + timedelta(hours=10))
    assert await served(gateway, account_id, "hour") == expected


async def test_pages_join_seamlessly_across_the_watermark(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    account_id = await seed.account()
    await seed_series(seed, account_id)
    expected = await direct(db, account_id, "hour")
    async with db.acquire() as conn:
        await refresh_rollups(conn, now=ORIGIN + timedelta(hours=7, minutes=30))
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    path = f"/api/accounts/{account_id}/metrics?metric=followers&resolution=hour&limit=5&from={ORIGIN.isoformat()}"
    path = path.replace("+", "%2B")
    collected: list[Bucket] = []
    for _ in range(20):
        reply = await gateway.call("GET", path, scope="read")
        assert reply.status == 200, reply.body
        collected += as_buckets(reply.json())
        if "Link" not in reply.headers:
            break
        path = reply.headers["Link"].split(">")[0].lstrip("<")
    assert collected == expected


async def test_buckets_are_whole_when_the_range_cuts_into_them(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool
) -> None:
    account_id = await seed.account()
    hour = ORIGIN + timedelta(hours=5)
    await seed.points(account_id, "followers", [
        (hour + timedelta(minutes=5), 1.0), (hour + timedelta(minutes=50), 2.0),
        (hour + timedelta(hours=1, minutes=10), 3.0),
    ])
    async with db.acquire() as conn:
        await refresh_rollups(conn)
    start, end = hour + timedelta(minutes=30), hour + timedelta(hours=1, minutes=5)
    path = (f"/api/accounts/{account_id}/metrics?metric=followers&resolution=hour"
            f"&from={start.isoformat()}&to={end.isoformat()}").replace("+", "%2B")
    body = (await gateway.call("GET", path, scope="read")).json()
    assert [(datetime.fromisoformat(b["ts"]), b["count"], b["first"], b["last"]) for b in body] == [
        (hour, 2, 1.0, 2.0), (hour + timedelta(hours=1), 1, 3.0, 3.0),
    ]
