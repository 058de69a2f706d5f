"""The `compact` operation on real Postgres: reads (the gateway's raw and bucket series, the
rollups) are the same before and after, late duplicates are read once and folded in, it is
idempotent, one transaction per partition, and retention drops compacted days too."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sma_common.db import migrations
from sma_gateway.repositories import metrics as gateway
from sma_maintenance.metrics import MaintenanceMetrics
from sma_maintenance.operations import CompactReport, Retention, cleanup, compact, refresh_rollups, run_operation
from tests.integration.cli.test_cli import sma

NOW = datetime.now(UTC)
TODAY = NOW.date()
MIDNIGHT = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
DAYS_BACK = 4
ORIGIN = MIDNIGHT - timedelta(days=DAYS_BACK)
SPAN_MICROS = int((NOW - ORIGIN).total_seconds() * 1_000_000) - 1
ACCOUNTS, METRICS = (1, 2, 3), (1, 2)
EVERYTHING = (ORIGIN - timedelta(days=1), NOW + timedelta(days=1))

points = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(METRICS), st.integers(0, SPAN_MICROS),
              st.floats(allow_nan=False)),
    max_size=60, unique_by=lambda p: (p[0], p[1], p[2]),
)


def at(micros: int) -> datetime:
    return ORIGIN + timedelta(microseconds=micros)


async def reset(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE metric_points, metric_points_compact, metric_rollups_hourly, "
                       "metric_rollups_daily, maintenance_state")
    await conn.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, $2)", ORIGIN.date(), DAYS_BACK + 2)


async def reads(conn: asyncpg.Connection) -> dict[str, object]:
    """Everything a reader can see: the gateway's series of every account and metric, raw and in
    hour and day buckets, and the rollup tables."""
    start, end = EVERYTHING
    out: dict[str, object] = {}
    for account in ACCOUNTS:
        for metric in METRICS:
            key = f"{account}/{metric}"
            out[f"raw {key}"] = await gateway.raw_points(conn, account, metric, start, end, 10_000, rounded=False)
            for unit in ("hour", "day"):
                out[f"{unit} {key}"] = await gateway.buckets(conn, account, metric, unit, start, end, 10_000,
                                                             rounded=False)
    for table in ("metric_rollups_hourly", "metric_rollups_daily"):
        out[table] = [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2, 3")]
    return out


async def compact_and_compare(url: str, rows: list[tuple[int, int, int, float]]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await reset(conn)
        await conn.executemany("INSERT INTO metric_points VALUES ($1, $2, $3, $4)",
                               [(a, m, at(t), v) for a, m, t, v in rows])
        await refresh_rollups(conn)
        before = await reads(conn)
        report = await compact(conn)
        closed = [r for r in rows if at(r[2]).date() <= TODAY - timedelta(days=2)]
        assert sum(d.raw_points for d in report.compacted) == len(closed)
        assert await conn.fetchval("SELECT count(*) FROM metric_points") == len(rows) - len(closed)
        assert await reads(conn) == before
        # The rollups recompute their last buckets from both layouts: nothing changes.
        assert [r.buckets_written for r in (await refresh_rollups(conn)).runs] == [0, 0]
        compact_rows = "SELECT * FROM metric_points_compact ORDER BY 1, 2, 3"
        stored = await conn.fetch(compact_rows)
        assert (await compact(conn)).compacted == ()
        assert await conn.fetch(compact_rows) == stored
        assert await reads(conn) == before
    finally:
        await conn.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=points)
def test_reads_are_the_same_before_and_after_compaction(database_url: str,
                                                         rows: list[tuple[int, int, int, float]]) -> None:
    asyncio.run(compact_and_compare(database_url, rows))


async def fill_days(conn: asyncpg.Connection, days: int = DAYS_BACK) -> None:
    """Points every 10 minutes for accounts 1 and 2 (metric 1), from `days` days ago until now."""
    await reset(conn)
    await conn.execute("""
        INSERT INTO metric_points
        SELECT a, 1, ts, a * 1000 + extract(epoch FROM ts) / 600
        FROM generate_series(1, 2) AS a, generate_series($1::timestamptz, now(), interval '10 minutes') AS ts
    """, MIDNIGHT - timedelta(days=days))


def partition(day: date) -> str:
    return f"metric_points_p{day:%Y%m%d}"


async def test_only_closed_rolled_up_days_are_compacted(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        assert (await compact(conn)).compacted == ()  # no rollups yet: nothing is closed
        await refresh_rollups(conn)
        report = await compact(conn)
        assert report.rolled_up_before == TODAY
        days = [d.day for d in report.compacted]
        assert days == [TODAY - timedelta(days=n) for n in range(DAYS_BACK, 1, -1)]
        for d in report.compacted:
            assert d.raw_points == d.compact_points == 2 * 144 and d.compact_rows == 2
            assert await conn.fetchval(f"SELECT count(*) FROM {partition(d.day)}") == 0
            # A row per point with its index entry against two array rows.
            assert d.bytes_after < d.bytes_before / 4
        for fresh in (TODAY, TODAY - timedelta(days=1)):
            assert await conn.fetchval(f"SELECT count(*) FROM {partition(fresh)}") > 0
        summary = report.summary()
        assert summary["partitions_compacted"] == DAYS_BACK - 1 and summary["points"] == 3 * 2 * 144


async def test_a_late_duplicate_is_read_once_and_folded_in_by_the_next_run(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
        await compact(conn)
        day = MIDNIGHT - timedelta(days=3)
        start, end = day, day + timedelta(days=1)
        before = await gateway.raw_points(conn, 1, 1, start, end, 1000, rounded=False)
        assert len(before) == 144
        # A command redelivered days later writes a point the compact row already has (another
        # value: the first copy stays) and one it has not.
        dup_ts, new_ts = before[10].ts, before[10].ts + timedelta(seconds=1)
        await conn.execute("INSERT INTO metric_points VALUES (1, 1, $1, -1), (1, 1, $2, -2)", dup_ts, new_ts)
        after = await gateway.raw_points(conn, 1, 1, start, end, 1000, rounded=False)
        assert len(after) == 145
        assert next(p for p in after if p.ts == dup_ts).value == before[10].value
        assert [p.value for p in after if p.ts == new_ts] == [-2]
        [folded] = (await compact(conn)).compacted
        assert folded.day == day.date() and folded.raw_points == 2 and folded.compact_points == 2 * 144 + 1
        assert await gateway.raw_points(conn, 1, 1, start, end, 1000, rounded=False) == after
        assert await conn.fetchval(f"SELECT count(*) FROM {partition(day.date())}") == 0


async def test_a_partition_is_compacted_whole_or_not_at_all(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
    oldest = partition(TODAY - timedelta(days=DAYS_BACK))
    async with db.acquire() as reader, reader.transaction():
        await reader.execute(f"SELECT count(*) FROM {oldest}")  # holds a lock compaction must wait for
        async with db.acquire() as conn:
            with pytest.raises(asyncpg.LockNotAvailableError):
                await compact(conn, lock_timeout_ms=100)
            assert await conn.fetchval(f"SELECT count(*) FROM {oldest}") == 2 * 144
            assert await conn.fetchval("SELECT count(*) FROM metric_points_compact") == 0
    async with db.acquire() as conn:
        assert len((await compact(conn)).compacted) == DAYS_BACK - 1


async def test_cleanup_drops_compacted_days_older_than_the_retention(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
        await compact(conn)
        report = await cleanup(conn, Retention(points_days=3))
        assert report.summary()["rows_deleted"]["metric_points_compact"] == 2  # type: ignore[index]
        days = {r["day"] for r in await conn.fetch("SELECT DISTINCT day FROM metric_points_compact")}
        assert days == {TODAY - timedelta(days=3), TODAY - timedelta(days=2)}
        assert {p.day for p in report.dropped if p.table == "metric_points"} == {TODAY - timedelta(days=4)}


async def test_full_compacts_after_rollups(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        report = await run_operation(conn, "full")
    parts = dict(report.parts)  # type: ignore[attr-defined]
    assert isinstance(parts["compact"], CompactReport) and len(parts["compact"].compacted) == DAYS_BACK - 1


async def test_downgrade_puts_compacted_points_back(database_url: str, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
        points = await conn.fetch("SELECT * FROM metric_points ORDER BY 1, 2, 3")
        await compact(conn)
    await asyncio.to_thread(migrations.downgrade, database_url, "0003")
    assert await db.fetch("SELECT * FROM metric_points ORDER BY 1, 2, 3") == points
    await asyncio.to_thread(migrations.upgrade, database_url)


async def test_the_cli_runs_compact(database_url: str, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
    code, _, err = await sma("db", "maintenance", "--operation", "compact", "--min-age-days", "0",
                             database_url=database_url)
    assert code == 2 and "--min-age-days" in err
    code, out, _ = await sma("db", "maintenance", "--operation", "compact", "--min-age-days", str(DAYS_BACK),
                             database_url=database_url)
    assert code == 0 and "compacted 0 partition(s)" in out
    code, out, err = await sma("db", "maintenance", "--operation", "compact", database_url=database_url)
    assert code == 0, err
    assert f"compacted {DAYS_BACK - 1} partition(s)" in out and "Traceback" not in err
    code, out, _ = await sma("db", "maintenance", "--operation", "compact", database_url=database_url)
    assert code == 0 and "compacted 0 partition(s)" in out


async def test_a_compact_run_counts_in_the_metrics(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await fill_days(conn)
        await refresh_rollups(conn)
        report = await compact(conn)
    registry = CollectorRegistry()
    MaintenanceMetrics(registry).record(report)
    assert registry.get_sample_value("sma_maintenance_compacted_points_total") == (DAYS_BACK - 1) * 2 * 144
    saved = registry.get_sample_value("sma_maintenance_compacted_bytes_saved_total")
    assert saved == report.bytes_before - report.bytes_after and saved > 0
