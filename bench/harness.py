"""What every benchmark needs: embedded Postgres, Redis and Kafka on free ports, the simulator and
services as real processes, bulk seeding of accounts and jobs, and readings of what the
simulator served and what the database recorded. Benchmarks run on a machine with only Python,
like `make run`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import psutil
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from sma_common.db import migrations
from sma_common.messages import FetchCommand, FetchItem, command_id_for, encode_command
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_devstack import EmbeddedKafka, EmbeddedPostgres, EmbeddedRedis, free_port
from sma_devstack.process import ManagedProcess
from sma_devstack.stack import (
    SIMULATOR_REDDIT_CLIENT,
    SIMULATOR_REDDIT_USER_AGENT,
    SIMULATOR_TWITCH_CLIENT,
    SIMULATOR_X_BEARER_TOKEN,
    SIMULATOR_YOUTUBE_API_KEY,
)

RESULTS = Path(__file__).resolve().parent / "results"
# One /metrics scrape: (sample name, sorted labels) -> value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
COMMANDS_TOPIC = "sma.fetch-commands"
# Budgets no benchmark reaches, for the services (settings) and the simulator (its own limits),
# when a benchmark measures the pipeline rather than the platforms' rate limits.
NO_LIMIT = 10_000_000
UNLIMITED_BUDGETS = {
    "SMA_TWITCH_RATE_LIMIT_PER_MINUTE": NO_LIMIT, "SMA_YOUTUBE_DAILY_QUOTA_UNITS": NO_LIMIT,
    "SMA_X_RATE_LIMIT_PER_15_MINUTES": NO_LIMIT, "SMA_REDDIT_RATE_LIMIT_PER_10_MINUTES": NO_LIMIT,
    "SMA_BLUESKY_RATE_LIMIT_PER_5_MINUTES": NO_LIMIT, "SMA_MASTODON_RATE_LIMIT_PER_5_MINUTES": NO_LIMIT,
}
SIM_UNLIMITED = {
    "twitch_points_per_minute": NO_LIMIT, "youtube_daily_quota": NO_LIMIT, "x_rate_limit": NO_LIMIT,
    "reddit_rate_limit": NO_LIMIT, "bluesky_rate_limit": NO_LIMIT, "mastodon_rate_limit": NO_LIMIT,
}


@dataclass
class Bench:
    workdir: Path
    database_url: str
    redis_url: str
    kafka: str
    servers: list[EmbeddedPostgres | EmbeddedRedis | EmbeddedKafka]
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    sim_url: str = ""

    def platform_env(self) -> dict[str, str]:
        sim = self.sim_url
        return {
            "SMA_TWITCH_API_BASE": f"{sim}/helix", "SMA_TWITCH_AUTH_BASE": sim,
            "SMA_TWITCH_CLIENT_ID": SIMULATOR_TWITCH_CLIENT[0], "SMA_TWITCH_CLIENT_SECRET": SIMULATOR_TWITCH_CLIENT[1],
            "SMA_YOUTUBE_API_BASE": f"{sim}/youtube/v3", "SMA_YOUTUBE_API_KEY": SIMULATOR_YOUTUBE_API_KEY,
            "SMA_X_API_BASE": f"{sim}/2", "SMA_X_BEARER_TOKEN": SIMULATOR_X_BEARER_TOKEN,
            "SMA_BLUESKY_API_BASE": f"{sim}/xrpc", "SMA_MASTODON_API_BASE": f"{sim}/mastodon/{{instance}}",
            "SMA_REDDIT_API_BASE": f"{sim}/reddit", "SMA_REDDIT_AUTH_BASE": f"{sim}/reddit-auth",
            "SMA_REDDIT_CLIENT_ID": SIMULATOR_REDDIT_CLIENT[0],
            "SMA_REDDIT_CLIENT_SECRET": SIMULATOR_REDDIT_CLIENT[1],
            "SMA_REDDIT_USER_AGENT": SIMULATOR_REDDIT_USER_AGENT,
        }

    def service_env(self, **extra: object) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("SMA_")}
        return {
            **base, "SMA_DATABASE_URL": self.database_url, "SMA_REDIS_URL": self.redis_url,
            "SMA_KAFKA_BOOTSTRAP_SERVERS": self.kafka, "SMA_HTTP_HOST": "127.0.0.1", "SMA_LOG_FORMAT": "json",
            "SMA_LOG_LEVEL": "WARNING", **self.platform_env(), **{k: str(v) for k, v in extra.items()},
        }

    async def start(self, name: str, module: str, env: dict[str, str]) -> str:
        """Start a service (or the simulator) as a process; returns its URL once it is ready."""
        port = free_port()
        process = ManagedProcess(name, [sys.executable, "-m", module], self.workdir / f"{name}.log",
                                 env={**env, "SMA_HTTP_PORT": str(port), "SMA_INSTANCE": name})
        process.start()
        self.processes[name] = process
        url = self.urls[name] = f"http://127.0.0.1:{port}"
        await wait_ready(url, process)
        return url

    async def start_simulator(self, **settings: object) -> str:
        env = self.service_env(**{f"SMA_SIMULATOR_{k.upper()}": v for k, v in settings.items()})
        self.sim_url = await self.start("simulator", "sma_simulator", env)
        return self.sim_url

    async def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        await process.stop(timeout=30)

    def cpu_seconds(self, name: str) -> float:
        pid = self.processes[name].pid
        assert pid is not None
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)

    def cpu_seconds_all(self) -> dict[str, float]:
        """CPU seconds so far of every process and embedded server, each with its children
        (Postgres backends, for one)."""
        out = {name: tree_cpu_seconds(p.pid) for name, p in self.processes.items() if p.pid is not None}
        for server in self.servers:
            if server.pid is not None:
                out[type(server).__name__.removeprefix("Embedded").lower()] = tree_cpu_seconds(server.pid)
        return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        used = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child_times = child.cpu_times()
                used += child_times.user + child_times.system
    except psutil.NoSuchProcess:
        return 0.0
    return float(used)


@contextlib.asynccontextmanager
async def bench_stack() -> AsyncIterator[Bench]:
    workdir = Path(tempfile.mkdtemp(prefix="sma-bench-"))
    pg = EmbeddedPostgres(free_port(), workdir / "postgres", durable=False)
    rd = EmbeddedRedis(free_port(), workdir / "redis")
    kf = EmbeddedKafka(free_port(), workdir / "kafka")
    servers: list[EmbeddedPostgres | EmbeddedRedis | EmbeddedKafka] = [pg, rd, kf]
    bench: Bench | None = None
    try:
        await asyncio.gather(*(s.start() for s in servers))
        database_url = await pg.create_database("sma_bench")
        await asyncio.to_thread(migrations.upgrade, database_url)
        bench = Bench(workdir, database_url, rd.url, kf.bootstrap_servers, servers)
        yield bench
    finally:
        if bench is not None:
            for name in reversed(list(bench.processes)):
                await bench.stop(name)
        await asyncio.gather(*(s.stop() for s in reversed(servers)), return_exceptions=True)
        shutil.rmtree(workdir, ignore_errors=True)


async def wait_ready(url: str, process: ManagedProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while True:
            if not process.running():
                raise RuntimeError(f"{process.name} exited during start-up:\n{process.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{url}/health/ready") as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} not ready after {timeout:g}s:\n{process.log_tail()}")
            await asyncio.sleep(0.2)


async def sim_accounts(sim_url: str) -> dict[str, list[dict[str, str]]]:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/accounts") as resp:
        body: dict[str, list[dict[str, str]]] = await resp.json()
        return body


async def seed_jobs(database_url: str, platform: Platform, accounts: Iterable[dict[str, str]], *,
                    interval_minutes: int, due: datetime | None = None) -> list[tuple[uuid.UUID, int, str, str]]:
    """Accounts and active jobs, due at `due` (default now); (job, account, external id, handle) each."""
    rows = list(accounts)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            ids = await conn.fetch(
                "INSERT INTO accounts (platform, external_id, handle) "
                "SELECT $1, * FROM unnest($2::text[], $3::text[]) RETURNING id, external_id, handle",
                platform.value, [a["id"] for a in rows], [a["handle"] for a in rows],
            )
            jobs = await conn.fetch(
                "INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, status, next_run_at) "
                "SELECT a, $2, $3, 'active', $4 FROM unnest($1::bigint[]) AS a RETURNING id, account_id",
                [r["id"] for r in ids], platform.value, interval_minutes, due or datetime.now(UTC),
            )
    finally:
        await conn.close()
    by_account = {r["id"]: (r["external_id"], r["handle"]) for r in ids}
    return [(j["id"], j["account_id"], *by_account[j["account_id"]]) for j in jobs]


async def produce_commands(kafka: str, platform: Platform, jobs: list[tuple[uuid.UUID, int, str, str]]) -> int:
    """Fetch commands of the platform's batch size, as the scheduler makes them; returns how many."""
    now = datetime.now(UTC)
    size = MAX_BATCH_SIZE[platform]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            items = tuple(FetchItem(job_id=j, account_id=a, external_id=e, handle=h) for j, a, e, h in chunk)
            command = FetchCommand(command_id=command_id_for(platform, [i.job_id for i in items], now),
                                   platform=platform, items=items, scheduled_for=now,
                                   deadline=now + timedelta(hours=1))
            await producer.send(COMMANDS_TOPIC, encode_command(command), key=uuid.uuid4().bytes)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def executions(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM job_executions GROUP BY status")
    finally:
        await conn.close()
    return {r["status"]: r["n"] for r in rows}


async def wait_for_executions(database_url: str, expected: int, timeout: float) -> float:
    """Seconds until `expected` executions are recorded."""
    started = time.monotonic()
    while sum((await executions(database_url)).values()) < expected:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"only {await executions(database_url)} of {expected} executions after {timeout:g}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, labels[k]) in ls for k in labels))


def histogram_quantile(before: Samples, after: Samples, name: str,
                       q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` of what histogram `name` (summed over
    its labels) observed between two scrapes; None when it observed nothing, inf past the last bucket."""
    counts: dict[float, float] = {}
    for (sample, labels), value in after.items():
        if sample == f"{name}_bucket":
            le = float(dict(labels)["le"])
            counts[le] = counts.get(le, 0.0) + value - before.get((sample, labels), 0.0)
    if not counts or counts.get(float("inf"), 0.0) <= 0:
        return None
    rank = q * counts[float("inf")]
    return next(le for le in sorted(counts) if counts[le] >= rank)


def figure(name: str, value: float | None, unit: str, *, goal: float | None = None, at_most: bool = False,
           baseline_name: str | None = None, baseline_value: float | None = None) -> dict[str, object]:
    """One reported figure, in the shape docs/ARCHITECTURE.md ("Benchmarks") fixes; `goal` is a
    floor on `ratio` when there is a baseline, else on `value` (a ceiling with `at_most`)."""
    ratio = round(value / baseline_value, 3) if value is not None and baseline_value else None
    measured = ratio if baseline_value else value
    meets = None if goal is None or measured is None else (measured <= goal if at_most else measured >= goal)
    return {"name": name, "value": value, "unit": unit, "goal": goal, "baseline_name": baseline_name,
            "baseline_value": baseline_value, "ratio": ratio, "meets_goal": meets}


def write_result(area: str, started_at: datetime, figures: list[dict[str, object]],
                 details: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{area}.json"
    result = {
        "area": area, "started_at": started_at.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform},
        "figures": figures, "details": details,
    }
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


@contextlib.contextmanager
def step(console: Console, label: str) -> Iterator[None]:
    """A spinner while a step runs, its duration once done."""
    started = time.monotonic()
    with console.status(f"{label}..."):
        yield
    console.print(f"  {label}: {time.monotonic() - started:.1f}s")


def cpu_now(bench: Bench) -> dict[str, float]:
    """CPU seconds so far of every process, this one (the benchmark's own work) included."""
    own = psutil.Process().cpu_times()
    return {**bench.cpu_seconds_all(), "benchmark": own.user + own.system}


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    return {name: round((after[name] - before.get(name, 0.0)) / seconds, 3) for name in after}
