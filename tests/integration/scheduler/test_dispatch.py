import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer

from sma_common.messages import decode_command
from sma_common.rate_limit import SharedRateLimiter
from sma_scheduler.app import build
from sma_scheduler.settings import SchedulerSettings
from tests.fixtures.data import insert_account, insert_job
from tests.fixtures.servers import KafkaNames
from tests.fixtures.services import running


def settings(database_url: str, kafka: KafkaNames, **overrides: object) -> SchedulerSettings:
    values: dict[str, object] = {
        "database_url": database_url, "kafka_bootstrap_servers": kafka.bootstrap,
        "kafka_commands_topic": kafka.commands_topic, "kafka_dlq_topic": kafka.dlq_topic, "http_host": "127.0.0.1",
        "http_port": 0, "scheduler_tick_seconds": 0.1, **overrides,
    }
    return SchedulerSettings(**values)  # type: ignore[arg-type]


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


async def seed_jobs(db: asyncpg.Pool, count: int, *, platform: str = "bluesky", due: str = "now()",
                    id_prefix: str = "did:plc:") -> list:
    """`count` active jobs in one statement, due at the SQL expression `due`."""
    rows = await db.fetch(
        f"""
        WITH a AS (
            INSERT INTO accounts (platform, external_id, handle)
            SELECT $1, $2 || n, 'u' || n FROM generate_series(1, $3) AS n RETURNING id
        )
        INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, next_run_at)
        SELECT id, $1, 15, {due} FROM a RETURNING id
        """,
        platform, id_prefix, count,
    )
    return [r["id"] for r in rows]


async def test_two_replicas_over_10000_due_jobs_dispatch_each_exactly_once(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames
) -> None:
    jobs = await seed_jobs(db, 10_000, due="now() - interval '10 seconds'")
    first = build(settings(database_url, kafka, scheduler_claim_limit=500, instance="a"))
    second = build(settings(database_url, kafka, scheduler_claim_limit=500, instance="b"))
    async with running(first), running(second):
        commands = await consume_commands(kafka, expected_items=10_000, timeout=60)
        await asyncio.sleep(0.5)  # anything dispatched twice would arrive by now
        commands += await consume_new(kafka, len(commands))
    seen = Counter(i.job_id for c in commands for i in c.items)
    assert set(seen) == set(jobs)
    assert max(seen.values()) == 1
    assert all(len(c.items) <= 25 for c in commands)


async def consume_new(kafka: KafkaNames, already: int) -> list:
    """Commands on the topic past the first `already` (none expected)."""
    consumer = AIOKafkaConsumer(kafka.commands_topic, bootstrap_servers=kafka.bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50, enable_auto_commit=False)
    await consumer.start()
    try:
        commands = []
        for _ in range(10):
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                commands += [decode_command(r.value) for r in records]
        return commands[already:]
    finally:
        await consumer.stop()


async def test_a_50_interval_overdue_job_runs_once_then_keeps_its_cadence(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames
) -> None:
    now = datetime.now(UTC)
    account = await insert_account(db, "twitch", "4242", "late")
    job = await insert_job(db, account, "twitch", interval_minutes=15, next_run_at=now - timedelta(minutes=15 * 50))
    async with running(build(settings(database_url, kafka))):
        commands = await consume_commands(kafka, expected_items=1)
        await asyncio.sleep(0.5)
    assert [i.job_id for c in commands for i in c.items] == [job]
    next_run = await db.fetchval("SELECT next_run_at FROM monitoring_jobs WHERE id = $1", job)
    assert now < next_run <= now + timedelta(minutes=15)
    # Its phase is kept: the next run is a whole number of intervals after the original slot.
    assert (next_run - (now - timedelta(minutes=15 * 50))).total_seconds() % 900 == 0


async def test_run_now_dispatches_within_one_tick_and_paused_jobs_never(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames
) -> None:
    later = await insert_job(db, await insert_account(db, "bluesky", "did:plc:later", "later"), "bluesky",
                             next_run_at=datetime.now(UTC) + timedelta(hours=1))
    paused = await insert_job(db, await insert_account(db, "bluesky", "did:plc:paused", "paused"), "bluesky",
                              status="paused", next_run_at=datetime.now(UTC) - timedelta(minutes=5))
    tick = 0.5
    async with running(build(settings(database_url, kafka, scheduler_tick_seconds=tick))):
        await asyncio.sleep(1.0)
        # As POST /api/jobs/{id}/run does.
        await db.execute("UPDATE monitoring_jobs SET next_run_at = now() WHERE id = $1", later)
        asked = asyncio.get_running_loop().time()
        commands = await consume_commands(kafka, expected_items=1)
        took = asyncio.get_running_loop().time() - asked
    assert [i.job_id for c in commands for i in c.items] == [later]
    assert took < tick + 0.5  # one tick, plus the broker's fetch wait
    assert await db.fetchval("SELECT last_dispatched_at FROM monitoring_jobs WHERE id = $1", paused) is None


async def test_a_platform_whose_collectors_are_behind_is_held(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames
) -> None:
    # 30 Twitch jobs dispatched and not finished: above the limit of 20, Twitch is held.
    behind = await seed_jobs(db, 30, platform="twitch", id_prefix="9", due="now() + interval '1 hour'")
    await db.execute("UPDATE monitoring_jobs SET last_dispatched_at = now() WHERE id = ANY($1)", behind)
    twitch = await seed_jobs(db, 5, platform="twitch", id_prefix="7", due="now() - interval '1 second'")
    bluesky = await seed_jobs(db, 5, due="now() - interval '1 second'")
    service = build(settings(database_url, kafka, scheduler_max_in_flight_per_platform=20,
                             scheduler_pressure_refresh_seconds=0.2))
    async with running(service) as url:
        commands = await consume_commands(kafka, expected_items=5)
        await eventually_in_metrics(url, 'sma_scheduler_held_jobs{platform="twitch",reason="backlog"} 5.0')
        await eventually_in_metrics(url, 'sma_scheduler_in_flight_jobs{platform="twitch"} 30.0')
        assert {i.job_id for c in commands for i in c.items} == set(bluesky)
        # The collectors catch up: the held jobs go out.
        await db.execute("UPDATE monitoring_jobs SET last_run_at = now() WHERE id = ANY($1)", behind)
        commands = await consume_commands(kafka, expected_items=10)
    assert {i.job_id for c in commands for i in c.items} == set(bluesky) | set(twitch)


async def test_a_platform_on_hold_is_not_dispatched_until_the_hold_ends(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames, redis_url: str, redis_prefix: str,
    limiter: SharedRateLimiter,
) -> None:
    now = datetime.now(UTC).timestamp()
    await limiter.hold("x", "some-credential", now + 2.0, "rate_limited")
    await limiter.hold("mastodon", "held.example", now + 60, "rate_limited")
    x = await seed_jobs(db, 3, platform="x", id_prefix="55", due="now() - interval '1 second'")
    held_instance = await seed_jobs(db, 2, platform="mastodon", id_prefix="held.example:", due="now()")
    free_instance = await seed_jobs(db, 2, platform="mastodon", id_prefix="mastodon.social:", due="now()")
    service = build(settings(database_url, kafka, redis_url=redis_url, redis_key_prefix=redis_prefix,
                             scheduler_pressure_refresh_seconds=0.2))
    async with running(service) as url:
        first = await consume_commands(kafka, expected_items=2)
        assert {i.job_id for c in first for i in c.items} == set(free_instance)
        await eventually_in_metrics(url, 'sma_scheduler_held_jobs{platform="x",reason="rate_limited"} 3.0')
        # The hold ends: X goes out; the held instance stays held.
        commands = await consume_commands(kafka, expected_items=5)
        await asyncio.sleep(0.5)
    assert {i.job_id for c in commands for i in c.items} == set(free_instance) | set(x)
    assert await db.fetchval(
        "SELECT count(*) FROM monitoring_jobs WHERE id = ANY($1) AND last_dispatched_at IS NULL", held_instance) == 2


async def test_a_late_backlog_is_paced_over_the_catch_up_window(
    db: asyncpg.Pool, database_url: str, kafka: KafkaNames
) -> None:
    # 2,000 jobs an hour late, a 4-second window: about 500 a second, not all in the first tick.
    await seed_jobs(db, 2000, due="now() - interval '1 hour'")
    service = build(settings(database_url, kafka, scheduler_catchup_window_seconds=4, scheduler_catchup_min_rate=10,
                             scheduler_pressure_refresh_seconds=0.1, scheduler_claim_limit=2000))
    started = asyncio.get_running_loop().time()
    async with running(service):
        commands = await consume_commands(kafka, expected_items=2000, timeout=30)
    took = asyncio.get_running_loop().time() - started
    ticks = Counter(c.scheduled_for for c in commands)
    per_tick = Counter()
    for c in commands:
        per_tick[c.scheduled_for] += len(c.items)
    assert len(ticks) > 4  # spread over many ticks
    assert max(per_tick.values()) <= 600  # never the whole backlog at once
    assert 2.5 < took < 12
