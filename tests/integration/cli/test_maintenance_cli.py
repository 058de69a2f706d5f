"""`sma db maintenance --operation NAME` as an operator runs it, against a real database."""

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.integration.cli.test_cli import sma

TODAY = datetime.now(UTC).date()


@pytest.mark.parametrize(("operation", "expected"), [
    ("partitions", "partitions"), ("stats", "cache hit ratio"), ("check", "nothing needs action"),
    ("analyze", "metric_points"), ("vacuum", "metric_points"), ("cleanup", "partition(s)"),
    ("rollups", "hourly"), ("full", "nothing needs action"),
])
async def test_each_operation_runs_and_renders(database_url: str, operation: str, expected: str) -> None:
    code, out, err = await sma("db", "maintenance", "--operation", operation, database_url=database_url)
    assert code == 0, err
    assert expected in out and "Traceback" not in err


async def test_check_exits_1_and_says_what_to_do_for_a_missing_partition(database_url: str,
                                                                          db: asyncpg.Pool) -> None:
    await db.execute(f"DROP TABLE metric_points_p{(TODAY + timedelta(days=1)):%Y%m%d}")
    code, out, _ = await sma("db", "maintenance", "--operation", "check", database_url=database_url)
    assert code == 1 and "needs action" in out and "--operation partitions" in out
    code, out, _ = await sma("db", "maintenance", "--operation", "check", "--json", database_url=database_url)
    assert code == 1 and json.loads(out)["check"]["findings"][0]["check"] == "partitions"
    code, _, _ = await sma("db", "maintenance", "--operation", "partitions", database_url=database_url)
    assert code == 0
    code, _, _ = await sma("db", "maintenance", "--operation", "check", database_url=database_url)
    assert code == 0


async def test_cleanup_dry_run_then_for_real(database_url: str, db: asyncpg.Pool) -> None:
    await db.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, 5)", TODAY - timedelta(days=40))
    code, out, _ = await sma("db", "maintenance", "--operation", "cleanup", "--days", "30", "--dry-run", "--json",
                             database_url=database_url)
    report = json.loads(out)["cleanup"]
    assert code == 0 and report["dry_run"] and len(report["dropped"]) == 5
    assert await db.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'metric_points'::regclass") >= 14
    code, out, _ = await sma("db", "maintenance", "--operation", "cleanup", "--days", "30",
                             database_url=database_url)
    assert code == 0 and "dropped 5 partition(s)" in out and "reclaimed" in out


async def test_vacuum_full_warns_about_exclusive_locks(database_url: str) -> None:
    code, out, err = await sma("db", "maintenance", "--operation", "vacuum", "--full", database_url=database_url)
    assert code == 0 and "ACCESS EXCLUSIVE" in err and "vacuum full" in out
    code, _, err = await sma("db", "maintenance", "--operation", "stats", "--full", database_url=database_url)
    assert code == 2 and "--full applies to" in err


async def test_a_busy_operation_is_refused(database_url: str, db: asyncpg.Pool) -> None:
    from sma_maintenance.operations import operation_lock

    async with db.acquire() as conn, operation_lock(conn, "cleanup"):
        code, _, err = await sma("db", "maintenance", "--operation", "cleanup", database_url=database_url)
    assert code == 1 and "another session is running the cleanup operation" in err
