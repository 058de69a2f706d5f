from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from sma_maintenance.operations import Retention, cleanup

TODAY = datetime.now(UTC).date()


async def partition_days(conn: asyncpg.Pool, table: str) -> set[date]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        table,
    )
    return {datetime.strptime(r["relname"][-8:], "%Y%m%d").date() for r in rows}


async def fill_120_days(db: asyncpg.Pool) -> None:
    """One point and one execution at noon of each of the last 120 days and today."""
    for table in ("metric_points", "job_executions"):
        await db.execute("SELECT sma_ensure_daily_partitions($1, $2, 121)", table, TODAY - timedelta(days=120))
    await db.execute("""
        INSERT INTO metric_points
        SELECT 1, 1, d + interval '12 hours', extract(day FROM d)
        FROM generate_series($1::timestamptz, $2::timestamptz, interval '1 day') AS d
    """, datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=120),
        datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC))
    await db.execute("""
        INSERT INTO job_executions (job_id, account_id, platform, command_id, scheduled_for, started_at,
                                    finished_at, status)
        SELECT gen_random_uuid(), 1, 'twitch', 'c', ts, ts, ts, 'success'
        FROM (SELECT ts FROM metric_points) AS p
    """)
    await db.execute("""
        INSERT INTO metric_rollups_daily
        SELECT 1, 1, d, 1, 1, 1, 1, 1
        FROM generate_series(now() - interval '800 days', now(), interval '1 day') AS d
    """)


@pytest.mark.parametrize("dry_run", [False, True])
async def test_cleanup_drops_exactly_the_partitions_older_than_the_retention(db: asyncpg.Pool,
                                                                             dry_run: bool) -> None:
    await fill_120_days(db)
    before = {t: await partition_days(db, t) for t in ("metric_points", "job_executions")}
    async with db.acquire() as conn:
        report = await cleanup(conn, Retention(90, 90, 730), dry_run=dry_run)

    expired = {TODAY - timedelta(days=n) for n in range(91, 121)}
    assert {p.day for p in report.dropped if p.table == "metric_points"} == expired
    assert {p.day for p in report.dropped if p.table == "job_executions"} == expired
    assert report.reclaimed_bytes > 0 and all(p.bytes > 0 for p in report.dropped)
    daily = {d.table: d.rows for d in report.deleted}
    assert daily["metric_rollups_daily"] in (69, 70, 71) and daily["metric_rollups_hourly"] == 0
    for table in ("metric_points", "job_executions"):
        after = await partition_days(db, table)
        assert after == (before[table] if dry_run else before[table] - expired)
    points = await db.fetchval("SELECT count(*) FROM metric_points")
    oldest = await db.fetchval("SELECT min(ts) FROM metric_points")
    if dry_run:
        assert points == 121
        assert await db.fetchval("SELECT count(*) FROM metric_rollups_daily") > 800
    else:
        # Everything from 90 days ago on is intact, nothing older is left.
        assert points == 91 and oldest.date() == TODAY - timedelta(days=90)
        assert await db.fetchval("SELECT count(*) FROM job_executions") == 91
        expired_rollups = "SELECT count(*) FROM metric_rollups_daily WHERE bucket < now() - interval '731 days'"
        assert await db.fetchval(expired_rollups) == 0


async def test_cleanup_twice_drops_nothing_the_second_time(db: asyncpg.Pool) -> None:
    await fill_120_days(db)
    async with db.acquire() as conn:
        first = await cleanup(conn, Retention(90, 90, 730), batch_rows=7)
        second = await cleanup(conn, Retention(90, 90, 730), batch_rows=7)
    assert len(first.dropped) == 60 and sum(d.rows for d in first.deleted) > 0
    assert second.dropped == () and sum(d.rows for d in second.deleted) == 0


async def test_cleanup_gives_up_on_a_locked_table_instead_of_blocking(db: asyncpg.Pool) -> None:
    await fill_120_days(db)
    async with db.acquire() as holder, holder.transaction():
        await holder.execute("LOCK TABLE metric_points IN ACCESS SHARE MODE")
        async with db.acquire() as conn:
            with pytest.raises(asyncpg.LockNotAvailableError):
                await cleanup(conn, Retention(90, 90, 730), lock_timeout_ms=200)
