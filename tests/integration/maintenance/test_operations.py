import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from sma_maintenance.app import build
from sma_maintenance.operations import (
    CheckReport,
    OperationBusy,
    PartitionReport,
    StatsReport,
    operation_lock,
    run_checks,
    run_operation,
)
from sma_maintenance.schedule import TASKS, due_tasks
from sma_maintenance.settings import MaintenanceSettings
from tests.fixtures.services import running

TODAY = datetime.now(UTC).date()


def settings(database_url: str, **overrides: object) -> MaintenanceSettings:
    return MaintenanceSettings(database_url=database_url, http_host="127.0.0.1", http_port=0,
                               maintenance_heartbeat_seconds=0.2, **overrides)


def test_due_tasks_follow_intervals_and_skip_switched_off_ones() -> None:
    intervals = {"partitions": 10.0, "rollups": 5.0, "vacuum": 0.0}
    assert due_tasks(intervals, {}, 100.0) == ["partitions", "rollups"]
    assert due_tasks(intervals, {"partitions": 95.0, "rollups": 95.0}, 100.0) == ["rollups"]
    assert due_tasks(intervals, {"partitions": 95.0, "rollups": 96.0}, 100.0) == []


@pytest.mark.parametrize("operation", ["partitions", "rollups", "cleanup", "compact", "analyze", "vacuum", "stats",
                                       "check", "full"])
async def test_every_operation_twice_changes_nothing_the_second_time(db: asyncpg.Pool, operation: str) -> None:
    # Points every 20 minutes over four days, rolled up, so there is something to compact too.
    await db.execute("SELECT sma_ensure_daily_partitions('metric_points', current_date - 5, 5)")
    await db.execute("INSERT INTO metric_points SELECT 1, 1, now() - make_interval(mins => 20 * g), g "
                     "FROM generate_series(1, 300) AS g")
    snapshot = ("SELECT (SELECT count(*) FROM metric_points), (SELECT count(*) FROM metric_rollups_hourly), "
                "(SELECT count(*) FROM pg_inherits), (SELECT coalesce(sum(count), 0) FROM metric_rollups_daily), "
                "(SELECT count(*) FROM metric_points_all)")
    async with db.acquire() as conn:
        await run_operation(conn, "rollups")
        await run_operation(conn, operation)
        first = await db.fetchrow(snapshot)
        second_report = await run_operation(conn, operation)
        assert await db.fetchrow(snapshot) == first
    summary = second_report.summary()
    if operation == "partitions":
        assert summary["created"] == 0
    if operation == "rollups":
        assert summary == {k: {**v, "written": 0} for k, v in summary.items()}  # type: ignore[dict-item]
    if operation == "cleanup":
        assert summary["partitions_dropped"] == 0
    if operation == "compact":
        assert summary["partitions_compacted"] == 0 and summary["bytes_before"] == 0


async def test_stats_reports_tables_partitions_and_indexes(db: asyncpg.Pool) -> None:
    await db.execute("INSERT INTO metric_points SELECT 1, 1, now() - make_interval(mins => g), g "
                     "FROM generate_series(1, 100) AS g")
    async with db.acquire() as conn:
        await conn.execute("ANALYZE metric_points")
        report = await run_operation(conn, "stats")
    assert isinstance(report, StatsReport)
    tables = {t.name: t for t in report.tables}
    assert tables["metric_points"].partitions >= 9 and tables["metric_points"].estimated_rows == 100
    assert tables["metric_points"].total_bytes > 0 and "accounts" in tables
    assert {p.parent for p in report.partitions} == {"metric_points", "job_executions"}
    assert "metric_points_pkey" in {i.name for i in report.indexes}
    ranges = {r.table: r for r in report.partition_ranges}
    assert ranges["metric_points"].newest is not None and ranges["metric_points"].newest >= TODAY + timedelta(days=6)


async def test_check_reports_a_missing_future_partition(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        ok = await run_checks(conn, min_days_ahead=3)
        assert not ok.needs_action and ok.days_ahead["metric_points"] >= 7
        assert ok.statements is None and "pg_stat_statements" in ok.statements_note
        await conn.execute(f"DROP TABLE metric_points_p{(TODAY + timedelta(days=1)):%Y%m%d}")
        report = await run_checks(conn, min_days_ahead=3)
    assert report.needs_action and report.days_ahead["metric_points"] == 1
    [finding] = report.findings
    assert finding.check == "partitions" and "--operation partitions" in finding.advice


async def test_check_reports_idle_in_transaction_sessions(db: asyncpg.Pool) -> None:
    async with db.acquire() as idle, idle.transaction():
        await idle.execute("SELECT 1")
        await asyncio.sleep(1.2)
        async with db.acquire() as conn:
            report = await run_checks(conn, long_query_seconds=1)
    assert isinstance(report, CheckReport)
    assert "idle_in_transaction" in {f.check for f in report.findings}


async def test_an_operation_runs_once_at_a_time(db: asyncpg.Pool) -> None:
    async with db.acquire() as holder, operation_lock(holder, "rollups"), db.acquire() as conn:
        with pytest.raises(OperationBusy):
            await run_operation(conn, "rollups")
        assert isinstance(await run_operation(conn, "partitions"), PartitionReport)
    async with db.acquire() as conn:
        await run_operation(conn, "rollups")  # released


async def detailed(http: aiohttp.ClientSession, url: str) -> dict:  # type: ignore[type-arg]
    async with http.get(f"{url}/health/detailed") as resp:
        return (await resp.json())["maintenance"]  # type: ignore[no-any-return]


async def test_only_the_leader_runs_tasks_and_a_failure_does_not_stop_it(db: asyncpg.Pool, database_url: str) -> None:
    await db.execute("DROP TABLE maintenance_state")  # rollups (and compact) fail until it is back
    fast = {f"maintenance_{t}_interval_seconds": 0.3 for t in TASKS}
    first = build(settings(database_url, instance="a", maintenance_interval_seconds=0.1, **fast))
    second = build(settings(database_url, instance="b", maintenance_interval_seconds=0.1, **fast))
    async with running(first) as url_a, running(second) as url_b, aiohttp.ClientSession() as http:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            a, b = await detailed(http, url_a), await detailed(http, url_b)
            leader = a if a["leader"] else b
            runs = leader["last_runs"]
            if runs.get("check", {}).get("status") == "success" and runs.get("rollups", {}).get("status") == "error":
                break
            assert asyncio.get_running_loop().time() < deadline, (a, b)
            await asyncio.sleep(0.1)
        follower = b if leader is a else a
        assert follower["leader"] is False and follower["last_runs"] == {}
        assert "maintenance_state" in runs["rollups"]["error"]
        # compact reads the rollups' watermark from the same table: it fails alongside.
        assert runs["compact"]["status"] == "error"
        healthy = set(TASKS) - {"rollups", "compact"}
        assert {t: runs[t]["status"] for t in healthy} == dict.fromkeys(healthy, "success")
        # Fixed, the next interval's run succeeds.
        await db.execute("CREATE TABLE maintenance_state (name text PRIMARY KEY, value text NOT NULL, "
                         "updated_at timestamptz NOT NULL DEFAULT now())")
        while (await detailed(http, url_a if leader is a else url_b))["last_runs"]["rollups"]["status"] != "success":
            assert asyncio.get_running_loop().time() < deadline + 10
            await asyncio.sleep(0.1)
        async with http.get(f"{url_a if leader is a else url_b}/metrics") as resp:
            exposition = await resp.text()
    assert 'sma_maintenance_task_runs_total{status="error",task="rollups"}' in exposition
    assert 'sma_maintenance_table_size_bytes{table="metric_points"}' in exposition
    assert 'sma_maintenance_rollup_watermark_timestamp_seconds{kind="hourly"}' in exposition
