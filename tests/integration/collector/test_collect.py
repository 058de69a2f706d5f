import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from sma_collector.app import build
from sma_collector.settings import CollectorSettings
from sma_common.messages import FetchCommand, FetchItem, command_id_for, encode_command
from sma_common.platforms import METRIC_IDS, Platform
from sma_simulator.app import create_app
from sma_simulator.context import SIM_CONTEXT
from sma_simulator.settings import SimulatorSettings
from tests.fixtures.data import insert_account, insert_job
from tests.fixtures.servers import KafkaNames
from tests.fixtures.services import running
from tests.fixtures.simulator import SimServer

METRIC_NAMES = {v: k for k, v in METRIC_IDS.items()}


def collector_settings(
    database_url: str, redis: tuple[str, str], kafka: KafkaNames, sim: SimServer
) -> CollectorSettings:
    return CollectorSettings(
        database_url=database_url, redis_url=redis[0], redis_key_prefix=redis[1],
        kafka_bootstrap_servers=kafka.bootstrap, kafka_commands_topic=kafka.commands_topic,
        kafka_dlq_topic=kafka.dlq_topic, kafka_consumer_group=kafka.group, kafka_session_timeout_ms=3000,
        http_host="127.0.0.1", http_port=0, **sim.platform_env(),
    )


async def make_command(db: asyncpg.Pool, platform: Platform, accounts: list[tuple[str, str]]) -> FetchCommand:
    items = []
    for external_id, handle in accounts:
        account_id = await insert_account(db, platform.value, external_id, handle)
        job_id = await insert_job(db, account_id, platform.value)
        items.append(FetchItem(job_id=job_id, account_id=account_id, external_id=external_id, handle=handle))
    now = datetime.now(UTC)
    return FetchCommand(command_id=command_id_for(platform, [i.job_id for i in items], now), platform=platform,
                        items=tuple(items), scheduled_for=now, deadline=now + timedelta(minutes=5))


async def produce(kafka: KafkaNames, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(kafka.commands_topic, value, key=uuid.uuid4().bytes)
    finally:
        await producer.stop()


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def sample(url: str, name: str, labels: dict[str, str]) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def test_commands_become_points_and_one_execution_per_job(
    db: asyncpg.Pool, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames, sim_server: SimServer
) -> None:
    twitch_accounts = [(a.id, a.handle) for a in sim_server.ctx.world.accounts(Platform.TWITCH)[:3]]
    bluesky_accounts = [(a.id, a.handle) for a in sim_server.ctx.world.accounts(Platform.BLUESKY)[:2]]
    twitch = await make_command(db, Platform.TWITCH, [*twitch_accounts, ("999999999", "ghost")])
    bluesky = await make_command(db, Platform.BLUESKY, bluesky_accounts)
    await produce(kafka, encode_command(twitch), b'{"v": 1, "garbage": true}', encode_command(bluesky))

    async with running(build(collector_settings(database_url, (redis_url, redis_prefix), kafka, sim_server))) as url:
        await wait_for(lambda: _count(db, "SELECT count(*) FROM job_executions", 6))
        executions = {r["job_id"]: r for r in await db.fetch("SELECT * FROM job_executions")}
        ghost = twitch.items[-1].job_id
        assert executions[ghost]["status"] == "not_found"
        assert executions[ghost]["points_written"] == 0
        assert all(e["status"] == "success" for j, e in executions.items() if j != ghost)
        assert all(e["scheduled_for"] == twitch.scheduled_for for j, e in executions.items()
                   if j in {i.job_id for i in twitch.items})

        points = await db.fetch("SELECT account_id, metric, value FROM metric_points")
        served = await _served(sim_server)
        stored = {(r["account_id"], METRIC_NAMES[r["metric"]]): r["value"] for r in points}
        by_external = {i.external_id: i.account_id for c in (twitch, bluesky) for i in c.items}
        expected = {(by_external[ext], metric): value for ext, metric, value in served}
        assert stored == expected
        assert {m for (_, m) in stored} >= {"followers", "is_live", "following", "posts"}

        jobs = await db.fetch("SELECT id, last_status, last_run_at FROM monitoring_jobs")
        assert {r["id"]: r["last_status"] for r in jobs} == {j: e["status"] for j, e in executions.items()}

        # The poison message went to the DLQ with its error, and consumption went on.
        dead = await _consume_one(kafka.bootstrap, kafka.dlq_topic)
        assert dead.value == b'{"v": 1, "garbage": true}'
        assert b"invalid FetchCommand" in dict(dead.headers)["error"]

        # Redelivery of a recorded command: no API call, no new row.
        twitch_calls = (await sim_server.ledger("twitch"))["twitch"]["requests"]  # type: ignore[index]
        before = await sample(url, "sma_collector_commands_total", {"result": "duplicate"})
        await produce(kafka, encode_command(twitch))
        await wait_for(lambda: _metric_above(url, "sma_collector_commands_total", {"result": "duplicate"}, before))
        assert (await sim_server.ledger("twitch"))["twitch"]["requests"] == twitch_calls  # type: ignore[index]
        assert await db.fetchval("SELECT count(*) FROM job_executions") == 6
        assert await db.fetchval("SELECT count(*) FROM metric_points") == len(points)
        assert await sample(url, "sma_collector_dead_letters_total", {}) == 1
        # Both commands wrote points, so both invalidated their accounts' cached reads.
        assert await sample(url, "sma_collector_cache_invalidations_total", {"result": "ok"}) == 2


async def _count(db: asyncpg.Pool, sql: str, expected: int) -> bool:
    return bool(await db.fetchval(sql) == expected)


async def _metric_above(url: str, name: str, labels: dict[str, str], value: float) -> bool:
    return await sample(url, name, labels) > value


async def _served(sim: SimServer) -> set[tuple[str, str, float]]:
    out = set()
    for platform in ("twitch", "bluesky"):
        ledger = await sim.ledger(platform)
        for obs in ledger[platform]["observations"]:  # type: ignore[index]
            out.add((obs["account_id"], obs["metric"], float(obs["value"])))
    return out


async def _consume_one(bootstrap: str, topic: str):  # type: ignore[no-untyped-def]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                fetch_max_wait_ms=50, group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                return records[0]
        raise AssertionError("nothing on the DLQ")
    finally:
        await consumer.stop()


async def test_a_command_the_database_refuses_goes_to_the_dlq_and_the_next_one_is_handled(
    db: asyncpg.Pool, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames, sim_server: SimServer
) -> None:
    accounts = [(a.id, a.handle) for a in sim_server.ctx.world.accounts(Platform.BLUESKY)[:2]]
    refused = await make_command(db, Platform.BLUESKY, accounts[:1])
    # Dispatched "in 2020": no job_executions partition exists for it, and none ever will.
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    refused = refused.model_copy(update={"scheduled_for": long_ago, "deadline": datetime.now(UTC) + timedelta(hours=1)})
    fine = await make_command(db, Platform.BLUESKY, accounts[1:])
    await produce(kafka, encode_command(refused), encode_command(fine))

    async with running(build(collector_settings(database_url, (redis_url, redis_prefix), kafka, sim_server))) as url:
        await wait_for(lambda: _count(db, "SELECT count(*) FROM job_executions", 1))
        dead = await _consume_one(kafka.bootstrap, kafka.dlq_topic)
        assert await sample(url, "sma_collector_dead_letters_total", {}) == 1
    assert b"database refused the command" in dict(dead.headers)["error"]
    assert dead.value == encode_command(refused)
    recorded = await db.fetchval("SELECT job_id FROM job_executions")
    assert recorded == fine.items[0].job_id


async def test_a_partition_maintenance_has_not_created_yet_is_waited_for_not_dead_lettered(
    db: asyncpg.Pool, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames, sim_server: SimServer
) -> None:
    today = datetime.now(UTC).date()
    for table in ("job_executions", "metric_points"):
        await db.execute(f"DROP TABLE {table}_p{today:%Y%m%d}")
    command = await make_command(db, Platform.BLUESKY, [(a.id, a.handle) for a in
                                                        sim_server.ctx.world.accounts(Platform.BLUESKY)[:1]])
    await produce(kafka, encode_command(command))

    async with running(build(collector_settings(database_url, (redis_url, redis_prefix), kafka, sim_server))) as url:
        await wait_for(lambda: _metric_above(url, "sma_collector_retries_total", {}, 0))
        assert await db.fetchval("SELECT count(*) FROM job_executions") == 0
        # Maintenance catches up: the command waiting on Kafka is written, none went to the DLQ.
        for table in ("job_executions", "metric_points"):
            await db.execute("SELECT sma_ensure_daily_partitions($1, $2, 1)", table, today)
        await wait_for(lambda: _count(db, "SELECT count(*) FROM job_executions", 1))
        assert await sample(url, "sma_collector_dead_letters_total", {}) == 0
    assert await db.fetchval("SELECT count(*) FROM metric_points") > 0


@pytest.mark.parametrize("max_in_flight", [2, 8])
async def test_commands_run_concurrently_up_to_the_in_flight_bound(
    db: asyncpg.Pool, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames, max_in_flight: int
) -> None:
    # Every platform answer takes 300 ms: overlapping executions show commands in flight at once.
    app = create_app(SimulatorSettings(simulator_accounts_per_platform=10, simulator_latency_ms=300))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        sim = SimServer(str(server.make_url("")).rstrip("/"), app[SIM_CONTEXT])
        commands = [await make_command(db, Platform.BLUESKY, [(a.id, a.handle)])
                    for a in sim.ctx.world.accounts(Platform.BLUESKY)[:8]]
        await produce(kafka, *(encode_command(c) for c in commands))
        settings = collector_settings(database_url, (redis_url, redis_prefix), kafka, sim).model_copy(
            update={"collector_max_in_flight": max_in_flight})
        async with running(build(settings)):
            await wait_for(lambda: _count(db, "SELECT count(*) FROM job_executions", 8))
    finally:
        await server.close()
    spans = [(r["started_at"], r["finished_at"]) for r in
             await db.fetch("SELECT started_at, finished_at FROM job_executions")]
    overlap = max(sum(1 for s, f in spans if s <= start < f) for start, _ in spans)
    if max_in_flight == 2:
        assert overlap == 2
    else:
        assert overlap >= 4
