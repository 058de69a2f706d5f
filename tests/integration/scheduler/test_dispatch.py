import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer

from sma_common.messages import decode_command
from sma_scheduler.app import build
from sma_scheduler.settings import SchedulerSettings
from tests.fixtures.data import insert_account, insert_job
from tests.fixtures.servers import KafkaNames
from tests.fixtures.services import running


def settings(database_url: str, kafka: KafkaNames, **overrides: object) -> SchedulerSettings:
    return SchedulerSettings(
        database_url=database_url, kafka_bootstrap_servers=kafka.bootstrap, kafka_commands_topic=kafka.commands_topic,
        kafka_dlq_topic=kafka.dlq_topic, http_host="127.0.0.1", http_port=0, scheduler_tick_seconds=0.1,
        **overrides,
    )


async def consume_commands(kafka: KafkaNames, expected_items: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(kafka.commands_topic, bootstrap_servers=kafka.bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50, enable_auto_commit=False)
    await consumer.start()
    commands = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while sum(len(c.items) for c in commands) < expected_items:
            assert asyncio.get_running_loop().time() < deadline, f"only {len(commands)} commands arrived"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                commands += [decode_command(r.value) for r in records]
    finally:
        await consumer.stop()
    return commands


async def eventually_in_metrics(url: str, line: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{url}/metrics") as resp:
                if line in await resp.text():
                    return
            assert asyncio.get_running_loop().time() < deadline, f"{line} not exported"
            await asyncio.sleep(0.05)


async def test_due_jobs_are_dispatched_once_and_advanced(db: asyncpg.Pool, database_url: str,
                                                         kafka: KafkaNames) -> None:
    now = datetime.now(UTC)
    due = []
    for i in range(3):
        account = await insert_account(db, "twitch", f"{1000 + i}", f"user{i}")
        due.append(await insert_job(db, account, "twitch", interval_minutes=15, next_run_at=now - timedelta(hours=3)))
    later = await insert_job(db, await insert_account(db, "bluesky", "did:plc:x", "x.bsky.social"), "bluesky",
                             next_run_at=now + timedelta(hours=1))
    paused = await insert_job(db, await insert_account(db, "bluesky", "did:plc:y", "y.bsky.social"), "bluesky",
                              status="paused", next_run_at=now - timedelta(minutes=1))

    service = build(settings(database_url, kafka))
    async with running(service) as url:
        commands = await consume_commands(kafka, expected_items=3)
        # The counters move once the tick's transaction has committed, just after the produce.
        await eventually_in_metrics(url, 'sma_scheduler_jobs_dispatched_total{platform="twitch"} 3.0')
    assert [c.platform.value for c in commands] == ["twitch"]
    assert sorted(i.job_id for i in commands[0].items) == sorted(due)
    rows = {r["id"]: r for r in await db.fetch("SELECT id, next_run_at, last_dispatched_at FROM monitoring_jobs")}
    for job_id in due:
        # Three hours overdue at a 15-minute interval: dispatched once, next slot in the future.
        assert now < rows[job_id]["next_run_at"] <= now + timedelta(minutes=15, seconds=5)
        assert rows[job_id]["last_dispatched_at"] is not None
    assert rows[later]["last_dispatched_at"] is None
    assert rows[paused]["last_dispatched_at"] is None


async def test_two_replicas_never_dispatch_the_same_job(db: asyncpg.Pool, database_url: str,
                                                         kafka: KafkaNames) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    jobs = []
    for i in range(400):
        account = await insert_account(db, "bluesky", f"did:plc:{i}", f"u{i}.bsky.social")
        jobs.append(await insert_job(db, account, "bluesky", interval_minutes=60, next_run_at=past))
    first = build(settings(database_url, kafka, scheduler_claim_limit=30, instance="a"))
    second = build(settings(database_url, kafka, scheduler_claim_limit=30, instance="b"))
    async with running(first), running(second):
        commands = await consume_commands(kafka, expected_items=400)
    seen = Counter(i.job_id for c in commands for i in c.items)
    assert set(seen) == set(jobs)
    assert max(seen.values()) == 1
    assert all(len(c.items) <= 25 for c in commands)
