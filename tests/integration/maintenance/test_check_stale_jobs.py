"""The check's stale-jobs finding and its gauge: active jobs with no fresh data within twice their
interval (what the `SmaStaleAccounts` alert reads)."""

import asyncpg
from prometheus_client import CollectorRegistry

from sma_maintenance.metrics import MaintenanceMetrics
from sma_maintenance.operations import run_checks

JOB = """
INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, status, last_run_at, last_status,
                             consecutive_failures, created_at)
VALUES ($1, $2, 10, $3, now() - make_interval(mins => $4), $5, $6, now() - interval '1 day')
"""


async def account(conn: asyncpg.Connection, platform: str, handle: str) -> int:
    return int(await conn.fetchval("INSERT INTO accounts (platform, external_id, handle) VALUES ($1, $2, $2) "
                                   "RETURNING id", platform, handle))


async def test_jobs_not_refreshed_within_twice_their_interval_are_stale(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        # fresh; run 25 min ago (over 2 x 10 min); failing twice in a row; stale but paused
        await conn.execute(JOB, await account(conn, "twitch", "fresh"), "twitch", "active", 5, "success", 0)
        await conn.execute(JOB, await account(conn, "twitch", "old"), "twitch", "active", 25, "success", 0)
        await conn.execute(JOB, await account(conn, "x", "failing"), "x", "active", 5, "failed", 2)
        await conn.execute(JOB, await account(conn, "x", "paused"), "x", "paused", 500, "success", 0)
        report = await run_checks(conn)
    assert report.stale_jobs == {"twitch": 1, "x": 1}
    assert sorted(f.detail for f in report.findings if f.check == "stale_jobs") == [
        "twitch: 1 active job(s) not refreshed within twice their interval",
        "x: 1 active job(s) not refreshed within twice their interval",
    ]
    registry = CollectorRegistry()
    MaintenanceMetrics(registry).record(report)
    assert registry.get_sample_value("sma_maintenance_stale_jobs", {"platform": "twitch"}) == 1
    assert registry.get_sample_value("sma_maintenance_stale_jobs", {"platform": "youtube"}) == 0
    assert registry.get_sample_value("sma_maintenance_check_findings", {"check": "stale_jobs"}) == 2
