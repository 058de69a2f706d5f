import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import aiohttp
import asyncpg

from sma_maintenance.app import build
from sma_maintenance.settings import MaintenanceSettings
from tests.fixtures.services import running


def settings(database_url: str, **overrides: object) -> MaintenanceSettings:
    return MaintenanceSettings(database_url=database_url, http_host="127.0.0.1", http_port=0,
                               maintenance_heartbeat_seconds=0.2, **overrides)


async def partition_days(db: asyncpg.Pool, table: str) -> set[date]:
    rows = await db.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        table,
    )
    return {datetime.strptime(r["relname"][-8:], "%Y%m%d").date() for r in rows}


async def test_partitions_are_created_ahead_and_reported(db: asyncpg.Pool, database_url: str) -> None:
    today = datetime.now(UTC).date()
    async with running(build(settings(database_url, maintenance_partition_days_ahead=12))) as url:
        async def detailed_after_first_run() -> dict | None:  # type: ignore[type-arg]
            async with aiohttp.ClientSession() as http, http.get(f"{url}/health/detailed") as resp:
                body = await resp.json()
            return body if "partitions" in body["maintenance"]["last_runs"] else None

        deadline = asyncio.get_running_loop().time() + 10
        while (detailed := await detailed_after_first_run()) is None:
            assert asyncio.get_running_loop().time() < deadline, "maintenance did not run"
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
            exposition = await resp.text()
    for table in ("metric_points", "job_executions"):
        assert today + timedelta(days=12) in await partition_days(db, table)
    run = detailed["maintenance"]["last_runs"]["partitions"]
    assert detailed["maintenance"]["leader"] is True and run["status"] == "success"
    newest = {t["table"]: t["newest"] for t in run["summary"]["tables"]}
    ahead = str(today + timedelta(days=12))
    assert newest == {"metric_points": ahead, "job_executions": ahead}
    assert 'sma_maintenance_task_runs_total{status="success",task="partitions"}' in exposition
    # An insert a week and a half ahead finds its partition.
    await db.execute("INSERT INTO metric_points VALUES (1, 1, now() + interval '11 days', 1)")
    heartbeat = await db.fetchrow("SELECT last_seen, details FROM service_heartbeats WHERE service = 'maintenance'")
    assert heartbeat is not None and "last_runs" in json.loads(heartbeat["details"])


async def test_only_one_instance_is_active(database_url: str) -> None:
    first = build(settings(database_url, instance="a", maintenance_interval_seconds=0.2))
    second = build(settings(database_url, instance="b", maintenance_interval_seconds=0.2))
    async with running(first) as url_a, running(second) as url_b, aiohttp.ClientSession() as http:

        async def leaders() -> list[bool]:
            out = []
            for url in (url_a, url_b):
                async with http.get(f"{url}/health/detailed") as resp:
                    out.append((await resp.json())["maintenance"]["leader"])
            return out

        deadline = asyncio.get_running_loop().time() + 10
        while not any(await leaders()):
            assert asyncio.get_running_loop().time() < deadline, "no leader"
            await asyncio.sleep(0.05)
        # Both keep trying every 0.2 s; the lock holder stays the only active one.
        for _ in range(10):
            assert sorted(await leaders()) == [False, True]
            await asyncio.sleep(0.1)


async def test_leadership_survives_a_lost_connection(db: asyncpg.Pool, database_url: str) -> None:
    lock_holder = (
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    async def holder() -> int | None:
        value = await db.fetchval(lock_holder)
        return int(value) if value is not None else None

    async def wait_for_holder(other_than: int | None) -> int:
        deadline = asyncio.get_running_loop().time() + 10
        while (pid := await holder()) is None or pid == other_than:
            assert asyncio.get_running_loop().time() < deadline, "no maintenance leader"
            await asyncio.sleep(0.05)
        return pid

    service = build(settings(database_url, maintenance_interval_seconds=0.1))
    async with running(service):
        first = await wait_for_holder(None)
        # As a database restart or a network cut would: the leader's session is gone.
        await db.execute("SELECT pg_terminate_backend($1)", first)
        second = await wait_for_holder(first)
        assert second != first
    # `running` asserted a clean exit 0: losing the connection did not kill the service.
