"""The collector's point write (`write_points`) against a real Postgres: a COPY when every point is
new, and idempotent like ON CONFLICT DO NOTHING when some are already stored."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from sma_collector.repository import Point, write_points

NOW = datetime.now(UTC)


def points(accounts: range, value: float, *, at: datetime = NOW) -> list[Point]:
    return [(a, 1, at, value) for a in accounts] + [(a, 3, at, value) for a in accounts]


async def stored(db: asyncpg.Pool) -> list[tuple[int, int, datetime, float]]:
    return [tuple(r) for r in await db.fetch("SELECT * FROM metric_points ORDER BY 1, 2, 3")]  # type: ignore[misc]


async def test_new_points_are_written(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await write_points(conn, points(range(1, 101), 5.0))
    assert await stored(db) == sorted(points(range(1, 101), 5.0))


async def test_points_already_stored_are_skipped_and_the_rest_written(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await write_points(conn, points(range(1, 51), 1.0))
        # Written again (another value: the stored one stays) with fifty new ones, inside the
        # caller's transaction, which goes on and commits.
        async with conn.transaction():
            await write_points(conn, points(range(1, 101), 2.0))
            await conn.execute("SELECT 1")
    assert await stored(db) == sorted(points(range(1, 51), 1.0) + points(range(51, 101), 2.0))


async def test_concurrent_writers_of_the_same_points_both_succeed(db: asyncpg.Pool) -> None:
    batch = points(range(1, 2001), 3.0, at=NOW - timedelta(hours=1))

    async def write() -> None:
        async with db.acquire() as conn, conn.transaction():
            await write_points(conn, batch)

    await asyncio.gather(write(), write(), write())
    assert await stored(db) == sorted(batch)
