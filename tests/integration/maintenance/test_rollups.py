import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sma_maintenance.operations import refresh_rollups

NOW = datetime.now(UTC)
YESTERDAY = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC) - timedelta(days=1)
SPAN_SECONDS = int((NOW - YESTERDAY).total_seconds()) - 1

DIRECT = """
SELECT account_id, metric, date_trunc('{unit}', ts, 'UTC') AS bucket, min(value) AS min, max(value) AS max,
       (array_agg(value ORDER BY ts))[1] AS first, (array_agg(value ORDER BY ts DESC))[1] AS last,
       count(*)::int AS count
FROM metric_points GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
STORED = "SELECT account_id, metric, bucket, min, max, first, last, count FROM {table} ORDER BY 1, 2, 3"

points = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(0, SPAN_SECONDS),
              st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)),
    max_size=40, unique_by=lambda p: (p[0], p[1], p[2]),
)


async def insert(conn: asyncpg.Connection, rows: list[tuple[int, int, int, float]]) -> None:
    await conn.executemany("INSERT INTO metric_points VALUES ($1, $2, $3, $4)",
                           [(a, m, YESTERDAY + timedelta(seconds=s), v) for a, m, s, v in rows])


async def assert_rollups_match_the_points(conn: asyncpg.Connection) -> None:
    for unit, table in (("hour", "metric_rollups_hourly"), ("day", "metric_rollups_daily")):
        direct = [tuple(r) for r in await conn.fetch(DIRECT.format(unit=unit))]
        stored = [tuple(r) for r in await conn.fetch(STORED.format(table=table))]
        assert stored == direct, table


async def roll_and_compare(url: str, rows: list[tuple[int, int, int, float]]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE metric_points, metric_rollups_hourly, metric_rollups_daily, maintenance_state")
        await insert(conn, rows)
        first = await refresh_rollups(conn, chunk_hours=5)
        await assert_rollups_match_the_points(conn)
        again = await refresh_rollups(conn, chunk_hours=5)
        assert [r.buckets_written for r in again.runs] == [0, 0]
        assert [r.watermark for r in again.runs] == [r.watermark for r in first.runs]
    finally:
        await conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=points)
def test_rollups_equal_a_group_by_over_the_points(database_url: str, rows: list[tuple[int, int, int, float]]) -> None:
    asyncio.run(roll_and_compare(database_url, rows))


async def test_rollups_catch_up_after_downtime_and_take_late_points(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        # Points every 10 minutes since yesterday; the service was last up at 06:00 yesterday.
        await conn.execute("""
            INSERT INTO metric_points SELECT 7, 1, ts, extract(epoch FROM ts)
            FROM generate_series($1::timestamptz, now(), interval '10 minutes') AS ts
        """, YESTERDAY)
        early = await refresh_rollups(conn, now=YESTERDAY + timedelta(hours=6, minutes=5))
        assert early.runs[0].watermark == YESTERDAY + timedelta(hours=6)
        caught_up = await refresh_rollups(conn)
        assert caught_up.runs[0].start == YESTERDAY + timedelta(hours=5)  # one bucket back
        await assert_rollups_match_the_points(conn)
        # A point that arrives late for the previous hour is taken by the next run.
        hour = caught_up.runs[0].watermark
        assert hour is not None
        await conn.execute("INSERT INTO metric_points VALUES (7, 1, $1, -1)", hour - timedelta(seconds=1))
        late = await refresh_rollups(conn)
        assert late.runs[0].buckets_written >= 1
        await assert_rollups_match_the_points(conn)
        assert (await refresh_rollups(conn)).runs[0].buckets_written == 0
