"""A poison message on the commands topic goes to the dead-letter topic with the error, and
consumption goes on: the commands after it on the same partition are recorded, and its offset is
committed like any finished command's."""

from __future__ import annotations

import orjson
import pytest

from sma_common.platforms import Platform
from tests.faults.rig import DLQ_TOPIC, FaultStack, committed_offsets, eventually, fault_stack, read_topic

pytestmark = [pytest.mark.faults]

PLATFORM = Platform.BLUESKY
KEY = b"one-partition"  # poison and valid commands on one partition: the poison must not block it
POISON = [
    b"\x00\xffnot json at all",
    orjson.dumps({"v": 1, "command_id": "no-items", "platform": "bluesky"}),
    orjson.dumps({"v": 99, "command_id": "future", "platform": "bluesky", "items": []}),
]


@pytest.mark.timeout(180)
async def test_poison_goes_to_the_dlq_and_consumption_continues() -> None:
    async with fault_stack(accounts_per_platform=6) as stack:
        jobs = await stack.seed(PLATFORM, 6)
        await stack.start("collector", "sma_collector")
        before = await stack.produce_round(PLATFORM, jobs[:3], size=3, key=KEY)
        for value in POISON:
            await stack.produce_raw(value, key=KEY)
        after = await stack.produce_round(PLATFORM, jobs[3:], size=3, key=KEY)

        await eventually(lambda: _executions(stack, len(jobs)), timeout=60, what="every valid command recorded")
        dead = await read_topic(stack, DLQ_TOPIC, expected=len(POISON))
        assert [r.value for r in dead] == POISON
        for record in dead:
            headers = dict(record.headers)
            assert headers["error"], "the DLQ record carries the error"
            assert headers["source_topic"] == b"sma.fetch-commands"
        rows = await stack.query("SELECT job_id, scheduled_for, status FROM job_executions")
        assert {(r["job_id"], r["scheduled_for"]) for r in rows} == stack.dispatched
        assert {r["status"] for r in rows} == {"success"}
        total = before + len(POISON) + after
        await eventually(lambda: _committed(stack, total), timeout=30, what="every offset committed")
        status, _ = await stack.readiness("collector")
        assert status == 200 and stack.bench.processes["collector"].running()


async def _executions(stack: FaultStack, n: int) -> bool:
    return await stack.execution_count() >= n


async def _committed(stack: FaultStack, n: int) -> bool:
    return await committed_offsets(stack) == n
