"""A collector stopped with SIGTERM finishes the commands in hand within its drain budget,
commits their offsets and exits 0; commands it cannot finish in time are handed back
uncommitted, and the next collector records them, once each."""

from __future__ import annotations

import pytest

from sma_common.platforms import Platform
from tests.faults.rig import FaultStack, committed_offsets, eventually, fault_stack

pytestmark = [pytest.mark.faults]

PLATFORM = Platform.BLUESKY
COLLECTOR = "sma_collector"
# Process exit after the drain: interpreter shutdown and the log flush.
EXIT_MARGIN = 3.0


async def _in_flight(stack: FaultStack, requests: int) -> bool:
    return sum((await stack.sim_requests(PLATFORM)).values()) >= requests


@pytest.mark.timeout(240)
async def test_sigterm_finishes_or_hands_back_in_flight_commands_and_exits_0() -> None:
    async with fault_stack(accounts_per_platform=24) as stack:
        jobs = await stack.seed(PLATFORM, 24)
        first, second = jobs[:12], jobs[12:]

        # 1. Slow answers (1.5 s) and a 10 s drain budget: the commands in hand finish.
        drain = 10.0
        await stack.sim_fault(platform=PLATFORM.value, kind="timeout", delay_seconds=1.5, count=4)
        await stack.start("collector", COLLECTOR, SMA_DRAIN_TIMEOUT_SECONDS=drain, SMA_COLLECTOR_MAX_IN_FLIGHT=4)
        commands = await stack.produce_round(PLATFORM, first, size=3)
        await eventually(lambda: _in_flight(stack, commands), timeout=30, interval=0.05, what="4 fetches in flight")
        assert await stack.execution_count() == 0
        code, took = await stack.sigterm("collector", timeout=drain + EXIT_MARGIN)
        assert code == 0, stack.log("collector")[-3000:]
        assert took < drain + EXIT_MARGIN
        assert await stack.execution_count() == len(first)
        assert await committed_offsets(stack) == commands

        # 2. Answers slower (8 s) than the drain budget (2 s): the commands are handed back
        # uncommitted and the process still exits 0 in time.
        drain = 2.0
        await stack.sim_reset()
        await stack.sim_fault(platform=PLATFORM.value, kind="timeout", delay_seconds=8, count=4)
        await stack.start("collector", COLLECTOR, SMA_DRAIN_TIMEOUT_SECONDS=drain, SMA_COLLECTOR_MAX_IN_FLIGHT=4)
        more = await stack.produce_round(PLATFORM, second, size=3)
        await eventually(lambda: _in_flight(stack, more), timeout=30, interval=0.05, what="4 fetches in flight")
        code, took = await stack.sigterm("collector", timeout=drain + EXIT_MARGIN)
        assert code == 0, stack.log("collector")[-3000:]
        assert took < drain + EXIT_MARGIN
        assert await stack.execution_count() == len(first)
        assert await committed_offsets(stack) == commands

        # The next collector gets them again (the faults are used up) and records each once.
        await stack.start("collector", COLLECTOR)
        await eventually(lambda: _count_is(stack, len(jobs)), timeout=60, what="every job recorded")
        rows = await stack.query("SELECT job_id, scheduled_for, status FROM job_executions")
        assert {(r["job_id"], r["scheduled_for"]) for r in rows} == stack.dispatched
        assert len(rows) == len(jobs) and {r["status"] for r in rows} == {"success"}
        await eventually(lambda: _committed(stack, commands + more), timeout=30, what="offsets committed")


async def _count_is(stack: FaultStack, n: int) -> bool:
    return await stack.execution_count() == n


async def _committed(stack: FaultStack, n: int) -> bool:
    return await committed_offsets(stack) == n
