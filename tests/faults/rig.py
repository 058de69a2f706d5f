"""The fault suite's stack: `bench.harness.Bench` (embedded Postgres, Redis and Kafka-protocol
broker on free ports, services and the simulator as real OS processes) plus what faults need:
SIGKILL and SIGTERM of a service, stopping and restarting a server on its own port, fetch
commands produced in rounds with a ledger of what was dispatched, and the simulator's ledger of
what it served, reconciled with what Postgres stored."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from bench.harness import Bench, bench_stack, seed_jobs, sim_accounts
from sma_common.messages import FetchCommand, FetchItem, command_id_for, encode_command
from sma_common.platforms import METRIC_IDS, Platform
from sma_devstack import EmbeddedKafka, EmbeddedPostgres, EmbeddedRedis

COMMANDS_TOPIC = "sma.fetch-commands"
DLQ_TOPIC = "sma.fetch-commands.dlq"
Job = tuple[uuid.UUID, int, str, str]  # job id, account id, external id, handle
T = TypeVar("T")

# Fast failure detection, so a killed collector's partitions move within seconds, not the default 10.
KAFKA_FAST = {"SMA_KAFKA_SESSION_TIMEOUT_MS": 3000, "SMA_KAFKA_CONNECT_TIMEOUT_SECONDS": 60}


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float, interval: float = 0.2,
                     what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s (last: {last!r})")
        await asyncio.sleep(interval)


@dataclass
class FaultStack:
    bench: Bench
    dispatched: set[tuple[uuid.UUID, datetime]] = field(default_factory=set)
    lifetimes: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)

    @property
    def postgres(self) -> EmbeddedPostgres:
        return next(s for s in self.bench.servers if isinstance(s, EmbeddedPostgres))

    @property
    def redis(self) -> EmbeddedRedis:
        return next(s for s in self.bench.servers if isinstance(s, EmbeddedRedis))

    @property
    def kafka(self) -> EmbeddedKafka:
        return next(s for s in self.bench.servers if isinstance(s, EmbeddedKafka))

    @property
    def database_url(self) -> str:
        return self.bench.database_url

    def url(self, name: str) -> str:
        return self.bench.urls[name]

    # Services as processes -------------------------------------------------------------------

    async def start(self, name: str, module: str, **settings: object) -> str:
        """Start a service process (settings as `SMA_*` names) and wait until it is ready."""
        env = self.bench.service_env(**KAFKA_FAST, **settings)
        url = await self.bench.start(name, module, env)
        self.lifetimes.setdefault(name, []).append((time.time(), None))
        return url

    def _ended(self, name: str) -> None:
        started, _ = self.lifetimes[name][-1]
        self.lifetimes[name][-1] = (started, time.time())

    async def sigkill(self, name: str) -> None:
        process = self.bench.processes.pop(name)
        assert process.proc is not None and process.pid is not None
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.proc.wait)
        self._ended(name)

    async def sigterm(self, name: str, timeout: float) -> tuple[int | None, float]:
        """SIGTERM only (never a kill after it): the exit code, or None if it was still running
        after `timeout` seconds (then it is killed), and the seconds it took."""
        process = self.bench.processes.pop(name)
        assert process.proc is not None and process.pid is not None
        started = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(asyncio.to_thread(process.proc.wait), timeout)
        except TimeoutError:
            code = None
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.proc.wait)
        self._ended(name)
        return code, time.monotonic() - started

    def log(self, name: str) -> str:
        return (self.bench.workdir / f"{name}.log").read_text(errors="replace")

    async def get(self, name: str, path: str) -> tuple[int, dict[str, object]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                http.get(f"{self.url(name)}{path}") as resp:
            body = await resp.json(content_type=None)
            return resp.status, body

    async def readiness(self, name: str) -> tuple[int, dict[str, object]]:
        return await self.get(name, "/health/ready")

    # Commands and the dispatch ledger -------------------------------------------------------

    async def seed(self, platform: Platform, count: int, *, interval_minutes: int = 60,
                   due: datetime | None = None) -> list[Job]:
        accounts = (await sim_accounts(self.bench.sim_url))[platform.value][:count]
        # Not due for an hour unless asked: the scheduler (when one runs) leaves them alone.
        return await seed_jobs(self.database_url, platform, accounts, interval_minutes=interval_minutes,
                               due=due or datetime.now(UTC) + timedelta(hours=1))

    async def produce_round(self, platform: Platform, jobs: Sequence[Job], *, size: int,
                            key: bytes | None = None) -> int:
        """One dispatch of every job, as the scheduler makes it (one `scheduled_for`, commands of
        `size` items), recorded as dispatched once the broker acknowledged it. With `key`, every
        command goes to that key's partition."""
        now = datetime.now(UTC)
        producer = AIOKafkaProducer(bootstrap_servers=self.bench.kafka, acks="all", linger_ms=5)
        await producer.start()
        try:
            sent = []
            for start in range(0, len(jobs), size):
                chunk = jobs[start : start + size]
                items = tuple(FetchItem(job_id=j, account_id=a, external_id=e, handle=h) for j, a, e, h in chunk)
                command = FetchCommand(command_id=command_id_for(platform, [i.job_id for i in items], now),
                                       platform=platform, items=items, scheduled_for=now,
                                       deadline=now + timedelta(hours=1))
                sent.append(await producer.send(COMMANDS_TOPIC, encode_command(command),
                                                 key=key or uuid.uuid4().bytes))
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        self.dispatched.update((j[0], now) for j in jobs)
        return len(sent)

    async def produce_raw(self, value: bytes, *, key: bytes) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bench.kafka, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(COMMANDS_TOPIC, value, key=key)
        finally:
            await producer.stop()

    # Reading what happened ------------------------------------------------------------------

    async def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def execution_count(self) -> int:
        return int((await self.query("SELECT count(*) AS n FROM job_executions"))[0]["n"])

    async def sim_ledger(self, platform: Platform) -> dict[str, object]:
        async with aiohttp.ClientSession() as http, \
                http.get(f"{self.bench.sim_url}/_sim/ledger", params={"platform": platform.value}) as resp:
            assert resp.status == 200
            body: dict[str, dict[str, object]] = await resp.json()
        return body[platform.value]

    async def sim_requests(self, platform: Platform) -> dict[str, int]:
        ledger = await self.sim_ledger(platform)
        counts = ledger["requests_by_endpoint"]
        assert isinstance(counts, dict)
        return {str(k): int(v) for k, v in counts.items()}

    async def sim_fault(self, **spec: object) -> None:
        async with aiohttp.ClientSession() as http, http.post(f"{self.bench.sim_url}/_sim/faults", json=spec) as r:
            assert r.status == 201, await r.text()

    async def sim_reset(self) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.delete(f"{self.bench.sim_url}/_sim/faults") as r:
                assert r.status == 200
            async with http.delete(f"{self.bench.sim_url}/_sim/ledger") as r:
                assert r.status == 204


@asynccontextmanager
async def fault_stack(**simulator: object) -> AsyncIterator[FaultStack]:
    """A fresh stack with the simulator started (its settings without the `simulator_` prefix)."""
    async with bench_stack() as bench:
        await bench.start_simulator(**simulator)
        stack = FaultStack(bench)
        try:
            yield stack
        except BaseException:
            # The services' logs are the only clue to a failure in a process of their own.
            kept = Path(tempfile.mkdtemp(prefix="sma-faults-logs-"))
            for log in bench.workdir.glob("*.log"):
                shutil.copy(log, kept)
            print(f"service logs kept in {kept}")
            raise


@dataclass
class Reconciliation:
    """The simulator's served observations against the points Postgres holds."""

    stored: int
    served: int
    matched: int
    unmatched_stored: list[tuple[int, str, datetime, float]]
    orphans: list[tuple[str, str, datetime, float]]  # served, never stored (external id, metric, ts, value)


async def reconcile(stack: FaultStack, platform: Platform) -> Reconciliation:
    """Match every stored point to the observation the simulator served for it: same account,
    metric and value, served within its execution's fetch (between the point's `ts`, the
    collector's `observed_at`, and the execution's `finished_at`). Each observation matches at
    most one point; what is left over on either side is reported."""
    externals = {r["id"]: r["external_id"] for r in await stack.query("SELECT id, external_id FROM accounts")}
    names = {v: k for k, v in METRIC_IDS.items()}
    points = await stack.query(
        "SELECT p.account_id, p.metric, p.ts, p.value, "
        "  (SELECT max(e.finished_at) FROM job_executions e WHERE e.account_id = p.account_id "
        "   AND e.started_at <= p.ts AND p.ts <= e.finished_at) AS finished_at "
        "FROM metric_points p ORDER BY p.ts")
    ledger = await stack.sim_ledger(platform)
    observations = ledger["observations"]
    assert isinstance(observations, list)
    served: dict[tuple[str, str, float], list[datetime]] = defaultdict(list)
    for o in observations:
        served[(o["account_id"], o["metric"], float(o["value"]))].append(datetime.fromisoformat(o["ts"]))
    for times in served.values():
        times.sort()
    used: set[tuple[str, str, float, datetime]] = set()
    unmatched_stored = []
    for p in points:
        key = (externals[p["account_id"]], names[p["metric"]], float(p["value"]))
        until = p["finished_at"]
        match = next((t for t in served.get(key, ()) if p["ts"] <= t and until is not None and t <= until
                      and (*key, t) not in used), None)
        if match is None:
            unmatched_stored.append((p["account_id"], names[p["metric"]], p["ts"], float(p["value"])))
        else:
            used.add((*key, match))
    orphans = sorted(((k[0], k[1], t, k[2]) for k, times in served.items() for t in times if (*k, t) not in used),
                     key=lambda o: o[2])
    return Reconciliation(len(points), len(observations), len(used), unmatched_stored, orphans)


async def read_topic(stack: FaultStack, topic: str, expected: int, timeout: float = 30.0) -> list[ConsumerRecord]:
    """The first `expected` records of `topic`, read from the start without a group."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.bench.kafka, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def committed_offsets(stack: FaultStack, group: str = "sma-collectors", topic: str = COMMANDS_TOPIC) -> int:
    """The sum over the topic's partitions of the group's committed offsets (what the group will
    not be given again)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bench.kafka, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # a fresh client knows no topic until it has fetched metadata
        partitions = consumer.partitions_for_topic(topic) or set()
        total = 0
        for p in partitions:
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()
