import asyncio

import asyncpg

from sma_common.db import migrations

TABLES = {
    "accounts", "monitoring_jobs", "job_executions", "metric_points", "metrics",
    "metric_rollups_hourly", "metric_rollups_daily", "api_keys", "service_heartbeats",
}


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        return {r["relname"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    assert await asyncio.to_thread(migrations.current, url) is None

    await asyncio.to_thread(migrations.upgrade, url)
    assert await asyncio.to_thread(migrations.current, url) == migrations.head()
    assert await _tables(url) >= TABLES

    await asyncio.to_thread(migrations.downgrade, url)
    assert await asyncio.to_thread(migrations.current, url) is None
    assert await _tables(url) == {"alembic_version"}

    await asyncio.to_thread(migrations.upgrade, url)
    assert await _tables(url) >= TABLES


async def test_metric_points_are_partitioned_with_partitions_ahead(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        strategy = await conn.fetchval(
            "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'metric_points'::regclass"
        )
        assert strategy == "r"
        # Inserting now and a week ahead never fails for a missing partition.
        await conn.execute(
            "INSERT INTO metric_points VALUES (1, 1, now(), 1), (1, 1, now() + interval '6 days', 2)"
        )
        created = await conn.fetchval(
            "SELECT sma_ensure_daily_partitions('metric_points', current_date, 7)"
        )
        assert created == 0  # idempotent: those days already exist
    finally:
        await conn.close()
