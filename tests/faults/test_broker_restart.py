"""The Kafka-protocol broker restarted under a running scheduler and collector: both reconnect by
themselves (same processes), the jobs that fell due while it was down are dispatched once it is
back, and no command is lost beyond what the scheduler's misfire policy re-dispatches once.

The embedded broker keeps its log in memory, so a restart also loses the topics, the consumer
group and any command not yet consumed: harsher than a restart of Apache Kafka, whose log and
topics survive. The test re-creates the topics after the restart, as the topic operator
(Strimzi's `KafkaTopic`) does on Kubernetes; the services only created them at start-up."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from sma_common.kafka import ensure_topics
from sma_common.kafka.topics import project_topics
from sma_common.platforms import Platform
from sma_common.settings import KafkaSettings
from tests.faults.rig import FaultStack, eventually, fault_stack

pytestmark = [pytest.mark.faults]

PLATFORM = Platform.BLUESKY
INTERVAL = timedelta(minutes=1)
DOWN_SECONDS = 5.0


async def _ready(stack: FaultStack, name: str) -> bool:
    code, _ = await stack.readiness(name)
    return code == 200


@pytest.mark.timeout(300)
async def test_broker_restart_services_reconnect_and_misfired_jobs_run_once() -> None:
    async with fault_stack(accounts_per_platform=6) as stack:
        jobs = await stack.seed(PLATFORM, 6, interval_minutes=1, due=datetime.now().astimezone())
        ids = [j[0] for j in jobs]
        await stack.start("collector", "sma_collector")
        await stack.start("scheduler", "sma_scheduler")
        pids = {name: stack.bench.processes[name].pid for name in ("collector", "scheduler")}
        await eventually(lambda: _executed_since(stack, ids, None), timeout=60, what="the first round")

        # Every job overdue by ten intervals (a misfire) while the collector's next fetch is held
        # 10 s: the broker goes away with that command in hand.
        await stack.sim_fault(platform=PLATFORM.value, kind="timeout", delay_seconds=10, count=1)
        before = sum((await stack.sim_requests(PLATFORM)).values())
        misfired_at = (await stack.query(
            "UPDATE monitoring_jobs SET next_run_at = now() - interval '10 minutes' RETURNING now() AS t"))[0]["t"]
        await eventually(lambda: _fetching(stack, before), timeout=30, interval=0.05, what="the misfire's fetch")
        down_at = (await stack.query("SELECT now() AS t"))[0]["t"]
        await stack.kafka.stop()
        # Due while the broker is down: the scheduler's produce fails, the jobs stay due.
        await stack.query("UPDATE monitoring_jobs SET next_run_at = now() WHERE id = ANY($1::uuid[])", ids[:2])
        await asyncio.sleep(DOWN_SECONDS)  # the outage itself
        await stack.kafka.start()
        await ensure_topics(stack.bench.kafka, project_topics(KafkaSettings(kafka_bootstrap_servers=stack.bench.kafka)))
        back_at = (await stack.query("SELECT now() AS t"))[0]["t"]
        back = time.monotonic()

        # Each job runs again through the reconnected producer and consumer: the two due during
        # the outage at once, the others at their next slot (within the interval).
        await eventually(lambda: _executed_since(stack, ids, back_at), timeout=INTERVAL.total_seconds() + 45,
                         what="every job dispatched and recorded after the restart")
        for name, pid in pids.items():
            assert stack.bench.processes[name].pid == pid and stack.bench.processes[name].running()
            assert await _ready(stack, name), f"{name} not ready after the restart"

        rows = await stack.query("SELECT job_id, scheduled_for, status FROM job_executions ORDER BY scheduled_for")
        runs: dict[object, list[datetime]] = defaultdict(list)
        for r in rows:
            runs[r["job_id"]].append(r["scheduled_for"])
        assert {r["status"] for r in rows} == {"success"}
        for job_id, times in runs.items():
            # The misfire (ten intervals overdue) ran once, not ten times, and its command, in
            # the collector's hands when the broker went away, was recorded.
            misfire = [t for t in times if misfired_at <= t < down_at]
            assert len(misfire) == 1, f"{job_id} ran {len(misfire)} times for one misfire: {times}"
            # Nothing dispatched twice and no slot lost beyond one: consecutive runs of a job
            # are apart by at most two intervals; those apart by less than an interval are the
            # ones we made due by hand.
            for earlier, later in pairwise(times):
                assert later - earlier <= 2 * INTERVAL + timedelta(seconds=15), f"{job_id}: {times}"
        for job_id in ids[2:]:
            times = runs[job_id]
            assert all(b - a >= INTERVAL - timedelta(seconds=5) for a, b in pairwise(times[1:])), \
                f"{job_id} dispatched twice within an interval: {times}"
        print(f"broker down {DOWN_SECONDS:g}s; every job again {time.monotonic() - back:.1f}s after; "
              f"runs per job: {sorted(len(t) for t in runs.values())}")


async def _fetching(stack: FaultStack, before: int) -> bool:
    return sum((await stack.sim_requests(PLATFORM)).values()) > before


async def _executed_since(stack: FaultStack, ids: list[object], since: datetime | None) -> bool:
    rows = await stack.query(
        "SELECT count(DISTINCT job_id) AS n FROM job_executions WHERE job_id = ANY($1::uuid[]) "
        "AND ($2::timestamptz IS NULL OR scheduled_for >= $2)", ids, since)
    return int(rows[0]["n"]) == len(ids)
