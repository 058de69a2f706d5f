"""Postgres restarted under a collector and a scheduler: both report not-ready while it is down,
retry with back-off (a bounded number of attempts, not a busy loop), and recover without a
restart; the collector commits no offset for a command whose write did not happen, and records
every command once Postgres is back."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.harness import scrape, total
from sma_common.platforms import Platform
from tests.faults.rig import FaultStack, committed_offsets, eventually, fault_stack

pytestmark = [pytest.mark.faults]

PLATFORM = Platform.BLUESKY
SERVICES = ("collector", "scheduler")
MIN_OUTAGE_SECONDS = 8.0


async def _ready(stack: FaultStack, name: str, expected: int) -> bool:
    try:
        code, _ = await stack.readiness(name)
    except OSError:
        return False
    return code == expected


async def _retries(stack: FaultStack) -> float:
    return total(await scrape(stack.url("collector")), "sma_collector_retries_total")


@pytest.mark.timeout(240)
async def test_postgres_restart_not_ready_backoff_recovery_and_no_commit_of_unwritten_commands() -> None:
    async with fault_stack(accounts_per_platform=6) as stack:
        jobs = await stack.seed(PLATFORM, 6)
        await stack.start("collector", "sma_collector", SMA_COLLECTOR_RETRY_BACKOFF_SECONDS=0.5)
        await stack.start("scheduler", "sma_scheduler")
        pids = {name: stack.bench.processes[name].pid for name in SERVICES}

        # The commands are being fetched (answers held 3 s) when Postgres goes away: their
        # writes cannot happen.
        await stack.sim_fault(platform=PLATFORM.value, kind="timeout", delay_seconds=3, count=2)
        commands = await stack.produce_round(PLATFORM, jobs, size=3)
        await eventually(lambda: _fetching(stack, commands), timeout=30, interval=0.05, what="fetches in flight")
        await stack.postgres.stop()
        down_at = time.monotonic()

        for name in SERVICES:
            await eventually(lambda n=name: _ready(stack, n, 503), timeout=30, what=f"{name} not ready")  # type: ignore[misc]
        await eventually(lambda: _retried(stack, 2), timeout=30, what="the collector retrying")
        assert await committed_offsets(stack) == 0, "an offset committed for a command not written"
        # Down long enough for several back-off steps.
        await asyncio.sleep(max(0.0, MIN_OUTAGE_SECONDS - (time.monotonic() - down_at)))
        assert await committed_offsets(stack) == 0
        for name in SERVICES:
            assert await _ready(stack, name, 503), f"{name} ready while Postgres is down"
        retries, outage = await _retries(stack), time.monotonic() - down_at
        # Back-off (0.5 s doubling, capped) per command: a handful of attempts, not a busy loop.
        assert retries <= commands * (2 + outage), f"{retries} retries in {outage:.1f}s"

        await stack.postgres.start()
        back = time.monotonic()
        back_at = (await stack.query("SELECT now() AS t"))[0]["t"]
        for name in SERVICES:
            await eventually(lambda n=name: _ready(stack, n, 200), timeout=60, what=f"{name} ready again")  # type: ignore[misc]
            assert stack.bench.processes[name].pid == pids[name] and stack.bench.processes[name].running()

        await eventually(lambda: _executions(stack, len(jobs)), timeout=90, what="every command recorded")
        rows = await stack.query("SELECT job_id, scheduled_for, status FROM job_executions")
        assert {(r["job_id"], r["scheduled_for"]) for r in rows} == stack.dispatched and len(rows) == len(jobs)
        assert {r["status"] for r in rows} == {"success"}
        await eventually(lambda: _committed(stack, commands), timeout=30, what="offsets committed after the writes")
        await eventually(lambda: _heartbeats_since(stack, back_at), timeout=30, what="heartbeats resumed")
        print(f"Postgres down {back - down_at:.1f}s; collector retries: {retries:g}")


async def _fetching(stack: FaultStack, n: int) -> bool:
    return sum((await stack.sim_requests(PLATFORM)).values()) >= n


async def _retried(stack: FaultStack, n: int) -> bool:
    return await _retries(stack) >= n


async def _executions(stack: FaultStack, n: int) -> bool:
    return await stack.execution_count() >= n


async def _heartbeats_since(stack: FaultStack, since: object) -> bool:
    rows = await stack.query("SELECT service FROM service_heartbeats WHERE last_seen > $1", since)
    return {r["service"] for r in rows} >= set(SERVICES)


async def _committed(stack: FaultStack, n: int) -> bool:
    return await committed_offsets(stack) == n
