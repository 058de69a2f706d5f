"""Scheduler benchmark: dispatch lag with a million jobs, and how fast a burst of due jobs drains.

1. Steady state: `--jobs` active jobs (default 1,000,000) every 15 minutes, seeded in SQL with
   `next_run_at` spread uniformly over 15 minutes (about 1,111 due a second), and the whole stack
   running: the scheduler, one collector (default platform budgets, so it is rate limited and
   mostly waits), the gateway and the simulator. For `--minutes` (default 5) the benchmark reads
   every fetch command from `sma.fetch-commands` with its own consumer and takes, for each job
   due in the window, the exact dispatch lag: the command's `scheduled_for` (the dispatching
   tick's time) minus the job's `next_run_at`. Also reported: the lag at delivery (when the
   benchmark received the command, so claim, produce and broker included) and the scheduler's
   own coarse `sma_scheduler_dispatch_lag_seconds` histogram over the same minutes. A job due in
   the window and still not dispatched a few seconds after it counts with the lag it had then.
2. Burst: with the scheduler stopped, `--burst` jobs (default 100,000) are made due at once (at
   the moment it stopped, so they come before the jobs due since and are on time, not paced as
   late), then the scheduler starts: the time from the first of them claimed (or the scheduler
   ready, if earlier) to the last of them received from the topic, and jobs per second. Once
   with the whole stack running, then, for the headline, with the collector stopped: on two
   cores it turns each dispatched job into a database write at once (every outcome is
   rate_limited under the default budgets) and takes a share of the CPU the baseline, which
   produces no commands, would not have to share.
3. Baseline, same run, collector stopped, as many other jobs (alike, never dispatched either)
   made due the same way: a bare claim-and-publish loop (one asyncpg connection, `FOR UPDATE
   SKIP LOCKED` claims of 1,000 in one transaction each with the update, one small message per
   claim awaited with aiokafka, to its own topic). The issue's goal of 10,000 jobs/s is
   expressed as a ratio to this ceiling so that `meets_goal` follows the figure() contract.

The scheduler runs with its defaults except the backpressure cap (`scheduler_env`).

Usage: `make bench-scheduler` (or `python bench/scheduler/run.py [--jobs N] [--minutes M] [--burst N]`).
Writes bench/results/scheduler.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands import Dispatches, _round, percentile, summary
from harness import (
    COMMANDS_TOPIC,
    Bench,
    bench_stack,
    cpu_now,
    cpu_share,
    figure,
    histogram_quantile,
    scrape,
    step,
    total,
    write_result,
)

from sma_common.kafka.topics import TopicSpec, ensure_topics

console = Console()
ROOT = Path(__file__).resolve().parents[2]
INTERVAL_MINUTES = 15
BARE_TOPIC = "bench.bare-claims"
BARE_CLAIM = 1000
GOAL_LAG_P99_SECONDS = 1.0
GOAL_BURST_JOBS_PER_SECOND = 10_000
GOAL_BURST_DRAIN_SECONDS = 10.0
WARMUP_SECONDS = 10.0  # after the scheduler is ready, before the window opens
GRACE_SECONDS = 5.0  # after the window, for its last jobs to be dispatched
SCHEDULER_SETTINGS = {"SMA_SCHEDULER_MAX_IN_FLIGHT_PER_PLATFORM": 100_000_000}
LAG_HISTOGRAM = "sma_scheduler_dispatch_lag_seconds"

SEED_ACCOUNTS = """
INSERT INTO accounts (platform, external_id, handle)
SELECT p,
       CASE p
           WHEN 'twitch' THEN (100000000 + g)::text
           WHEN 'youtube' THEN 'UC' || substr(md5(g::text), 1, 22)
           WHEN 'x' THEN (1500000000000000000 + g)::text
           WHEN 'reddit' THEN CASE WHEN g % 12 = 3 THEN 't2_' ELSE 't5_' END || to_hex(g)
           WHEN 'bluesky' THEN 'did:plc:' || substr(md5(g::text), 1, 24)
           ELSE (ARRAY['mastodon.social', 'fosstodon.org', 'hachyderm.io', 'mas.to'])[g / 6 % 4 + 1]
                || ':' || (109000000000000000 + g)::text
       END,
       CASE p WHEN 'bluesky' THEN 'bench' || g || '.bsky.social' ELSE 'bench' || g END
FROM (SELECT g, (ARRAY['twitch', 'youtube', 'x', 'reddit', 'bluesky', 'mastodon'])[g % 6 + 1] AS p
      FROM generate_series(1, $1::int) AS g) AS s
"""

SEED_JOBS = f"""
INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, status, next_run_at)
SELECT id, platform, {INTERVAL_MINUTES}, 'active',
       $1::timestamptz + random() * interval '{INTERVAL_MINUTES} minutes'
FROM accounts
"""

DUE_COUNT = "SELECT count(*) FROM monitoring_jobs WHERE status = 'active' AND next_run_at <= now()"
BACKLOG_OK = 2000
MAKE_DUE = "UPDATE monitoring_jobs SET next_run_at = $2 WHERE id = ANY($1::uuid[])"

BARE_CLAIM_SQL = """
SELECT id FROM monitoring_jobs
WHERE status = 'active' AND next_run_at <= now()
ORDER BY next_run_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
BARE_ADVANCE_SQL = f"""
UPDATE monitoring_jobs
SET next_run_at = now() + interval '{INTERVAL_MINUTES} minutes', last_dispatched_at = now(), updated_at = now()
WHERE id = ANY($1::uuid[])
"""


async def seed(bench: Bench, jobs: int) -> tuple[float, dict[int, float]]:
    """Accounts and jobs in SQL; returns when the first job comes due and every job's due time."""
    conn = await asyncpg.connect(bench.database_url)
    try:
        started = time.monotonic()
        with step(console, f"seeding {jobs:,} accounts"):
            await conn.execute(SEED_ACCOUNTS, jobs)
        accounts_seconds = time.monotonic() - started
        # Jobs come due from `first_due` on: far enough ahead for the jobs insert, VACUUM and
        # the scheduler's start (a misjudgement only costs idle time or a warm-up catch-up,
        # which the window excludes).
        first_due = time.time() + 10 + 2.2 * accounts_seconds
        with step(console, f"seeding {jobs:,} jobs every {INTERVAL_MINUTES} minutes"):
            await conn.execute(SEED_JOBS, datetime.fromtimestamp(first_due, UTC))
        with step(console, "VACUUM ANALYZE"):
            await conn.execute("VACUUM ANALYZE accounts")
            await conn.execute("VACUUM ANALYZE monitoring_jobs")
        with step(console, "loading due times"):
            rows = await conn.fetch("SELECT id, extract(epoch FROM next_run_at)::float8 AS due FROM monitoring_jobs")
            due = {r[0].int: r[1] for r in rows}
            del rows
    finally:
        await conn.close()
    return first_due, due


def source_state() -> dict[str, object]:
    """Which scheduler was measured: the commit, and whether the work tree changes it."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "services/scheduler", "libs/common").splitlines()}


def scheduler_env(bench: Bench) -> dict[str, str]:
    """Default settings but for backpressure: one rate-limited collector is no deployment for a
    million jobs, and with the default cap every platform would be held (its jobs kept due)
    after about 50,000 / 185 s of dispatching, measuring the collectors instead of the scheduler."""
    return bench.service_env(**SCHEDULER_SETTINGS)


async def scheduler_pressure(bench: Bench) -> dict[str, Any]:
    """What holds the scheduler back, from its /health/detailed."""
    async with aiohttp.ClientSession() as http, http.get(f"{bench.urls['scheduler']}/health/detailed") as resp:
        body = await resp.json()
    ticker = body.get("ticker", {})
    pressure = ticker.get("pressure", {})
    return {k: pressure.get(k) for k in ("due", "late", "in_flight", "held", "held_instances")} | {
        "last_tick_jobs": ticker.get("last_tick_jobs")}


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def steady_state(bench: Bench, dispatches: Dispatches, first_due: float, minutes: float) -> dict[str, Any]:
    ready = time.time()
    start = max(first_due, ready + WARMUP_SECONDS)
    end = start + minutes * 60
    if end > first_due + INTERVAL_MINUTES * 60 - 30:
        raise RuntimeError("the window outlasts the seeded interval: seeding took too long or --minutes is too high")
    dispatches.window = (start, end)
    console.print(f"window: jobs due from {datetime.fromtimestamp(start, UTC):%H:%M:%S} for {minutes:g} minutes "
                  f"(opens in {start - time.time():.0f}s)")
    await sleep_until(start)
    metrics_before, cpu_before = await scrape(bench.urls["scheduler"]), cpu_now(bench)
    items_before, held_max, next_scrape = dispatches.items, 0.0, time.time() + 10
    redispatched_before = dispatches.redispatched
    pressure: list[dict[str, Any]] = []
    columns = (TextColumn("[bold]steady state[/]"), BarColumn(), TextColumn("{task.description}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=end - start)
        while time.time() < end:
            await asyncio.sleep(2)
            dispatches.check()
            if not bench.processes["scheduler"].running():
                raise RuntimeError(f"the scheduler exited:\n{bench.processes['scheduler'].log_tail()}")
            recent = sorted(lag for _, lag, _ in dispatches.lags[-20_000:])
            p50, p99 = percentile(recent, 0.5) or 0.0, percentile(recent, 0.99) or 0.0
            if time.time() > next_scrape:
                next_scrape += 10
                held_max = max(held_max, total(await scrape(bench.urls["scheduler"]), "sma_scheduler_held_jobs"))
                pressure.append({"at_second": round(time.time() - start), **await scheduler_pressure(bench)})
            progress.update(task, completed=min(end, time.time()) - start,
                            description=f"{len(dispatches.lags):,} jobs measured, recent lag p50 {p50:.3f}s "
                                        f"p99 {p99:.3f}s")
    metrics_after, cpu_after = await scrape(bench.urls["scheduler"]), cpu_now(bench)
    dispatched = dispatches.items - items_before
    redispatched = dispatches.redispatched - redispatched_before
    await sleep_until(end + GRACE_SECONDS)
    dispatches.check()
    stopped = time.time()
    missed = dispatches.undispatched(stopped)
    lags = dispatches.lags
    tick_lags = [lag for _, lag, _ in lags] + missed
    delivered_lags = [lag for _, _, lag in lags] + missed
    per_minute: list[dict[str, Any]] = []
    for minute in range(math.ceil(minutes)):
        low, high = start + 60 * minute, min(end, start + 60 * (minute + 1))
        per_minute.append({"minute": minute + 1, **summary([lag for due, lag, _ in lags if low <= due < high])})
    seconds = end - start
    ticks = total(metrics_after, "sma_scheduler_ticks_total") - total(metrics_before, "sma_scheduler_ticks_total")
    tick_seconds = (total(metrics_after, "sma_scheduler_tick_duration_seconds_sum")
                    - total(metrics_before, "sma_scheduler_tick_duration_seconds_sum"))
    return {
        "window_seconds": round(seconds, 1),
        "jobs_due_in_window": len(lags) + len(missed),
        "undispatched_after_grace": len(missed),
        "lag_at_tick": summary(tick_lags),
        "lag_at_delivery": summary(delivered_lags),
        "lag_histogram_upper_bounds": {
            "p50_le": histogram_quantile(metrics_before, metrics_after, LAG_HISTOGRAM, 0.5),
            "p99_le": histogram_quantile(metrics_before, metrics_after, LAG_HISTOGRAM, 0.99),
        },
        "per_minute_lag_at_tick": per_minute,
        "jobs_dispatched_per_second": round(dispatched / seconds, 1),
        "jobs_redispatched": redispatched,
        "ticks": int(ticks),
        "mean_tick_seconds": round(tick_seconds / ticks, 4) if ticks else None,
        "tick_seconds_p99_le": histogram_quantile(metrics_before, metrics_after, "sma_scheduler_tick_duration_seconds",
                                                  0.99),
        "held_jobs_max": held_max,
        "pressure_every_10s": pressure,
        "in_flight_jobs_at_end": total(metrics_after, "sma_scheduler_in_flight_jobs"),
        "cpu_share": cpu_share(cpu_before, cpu_after, seconds),
        "unknown_jobs_in_commands": dispatches.unknown,
    }


async def stop_and_make_due(bench: Bench, job_ids: list[uuid.UUID]) -> int:
    """Stop the scheduler and make the burst jobs due at the moment it stopped: every job due
    since comes after them in claim order, and they are on time (not paced as late). Jobs due
    before would come first: the scheduler clears them before it stops (rate-limited jobs the
    collector moved to their budget's reset come due together). Returns how many were left."""
    conn = await asyncpg.connect(bench.database_url)
    try:
        with step(console, "letting the scheduler clear what is due"):
            deadline = time.monotonic() + 60
            while await conn.fetchval(DUE_COUNT) > BACKLOG_OK and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        with step(console, "VACUUM ANALYZE"):
            await conn.execute("VACUUM ANALYZE monitoring_jobs")  # dead rows of the phase before, for both
        stopped_at = datetime.now(UTC)
        with step(console, "stopping the scheduler"):
            await bench.stop("scheduler")
        with step(console, f"making {len(job_ids):,} jobs due at once"):
            await conn.execute(MAKE_DUE, job_ids, stopped_at)
        ahead: int = await conn.fetchval(DUE_COUNT.replace("now()", "$1"), stopped_at)
    finally:
        await conn.close()
    return ahead - len(job_ids)


async def pick_bursts(bench: Bench, count: int, sets: int) -> list[list[uuid.UUID]]:
    """`sets` sets of `count` jobs never dispatched yet, alike (rows taken in turn by due time).
    Never dispatched, so no collector touches them (a rate-limited job gets a new next_run_at
    from the collector) while they are made due."""
    conn = await asyncpg.connect(bench.database_url)
    try:
        rows = await conn.fetch("SELECT id FROM monitoring_jobs WHERE last_dispatched_at IS NULL "
                                "ORDER BY next_run_at DESC LIMIT $1", sets * count)
    finally:
        await conn.close()
    if len(rows) < sets * count:
        raise RuntimeError(f"only {len(rows):,} jobs never dispatched, {sets * count:,} wanted: lower --burst")
    ids = [r["id"] for r in rows]
    return [ids[i::sets] for i in range(sets)]


async def scheduler_burst(bench: Bench, dispatches: Dispatches, job_ids: list[uuid.UUID]) -> dict[str, Any]:
    ahead = await stop_and_make_due(bench, job_ids)
    dispatches.start_burst(job_ids)
    cpu_before = cpu_now(bench)
    spawned = time.time()
    with step(console, "starting the scheduler"):
        await bench.start("scheduler", "sma_scheduler", scheduler_env(bench))
    ready = time.time()
    with step(console, f"scheduler draining {len(job_ids):,} jobs"):
        while not dispatches.burst_done.is_set():
            dispatches.check()
            if time.time() - ready > 120:
                raise RuntimeError(f"{len(dispatches.burst_left):,} burst jobs still undispatched after 120s "
                                   f"({dispatches.items:,} items read in all); the scheduler's pressure: "
                                   f"{await scheduler_pressure(bench)}\n{bench.processes['scheduler'].log_tail()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dispatches.burst_done.wait(), 1)
    cpu_after = cpu_now(bench)
    metrics = await scrape(bench.urls["scheduler"])
    assert dispatches.burst_last_received is not None and dispatches.burst_first_tick is not None
    started = min(ready, dispatches.burst_first_tick)
    drain = dispatches.burst_last_received - started
    ticks = total(metrics, "sma_scheduler_ticks_total", outcome="ok")
    tick_seconds = total(metrics, "sma_scheduler_tick_duration_seconds_sum")
    return {
        "jobs": len(job_ids),
        "drain_seconds": round(drain, 3),
        "jobs_per_second": round(len(job_ids) / drain, 1),
        "commands": dispatches.burst_commands,
        "other_jobs_due_before": ahead,
        "process_start_to_ready_seconds": round(ready - spawned, 2),
        "first_claim_after_ready_seconds": round(dispatches.burst_first_tick - ready, 3),
        "ticks_so_far": int(ticks),
        "mean_tick_seconds": round(tick_seconds / ticks, 4) if ticks else None,
        "jobs_dispatched_so_far": int(total(metrics, "sma_scheduler_jobs_dispatched_total")),
        "cpu_share_from_start": cpu_share(cpu_before, cpu_after, time.time() - spawned),
    }


async def bare_loop(bench: Bench, job_ids: list[uuid.UUID]) -> dict[str, Any]:
    """The ceiling: claim, publish one small message, advance, commit; until the burst is drained."""
    ahead = await stop_and_make_due(bench, job_ids)
    left = {j.int for j in job_ids}
    conn = await asyncpg.connect(bench.database_url)
    producer = AIOKafkaProducer(bootstrap_servers=bench.kafka, acks="all", linger_ms=5)
    await producer.start()
    claims: list[float] = []
    claimed = 0
    cpu_before = cpu_now(bench)
    try:
        await conn.fetch(BARE_CLAIM_SQL, 0)  # prepare outside the timing
        with step(console, f"bare claim-and-publish loop draining {len(job_ids):,} jobs"):
            started = time.perf_counter()
            while left:
                claim_started = time.perf_counter()
                async with conn.transaction():
                    rows = await conn.fetch(BARE_CLAIM_SQL, BARE_CLAIM)
                    if not rows:
                        raise RuntimeError(f"{len(left):,} burst jobs not due any more")
                    ids = [r["id"] for r in rows]
                    await producer.send_and_wait(BARE_TOPIC, orjson.dumps({"jobs": len(ids), "first": str(ids[0])}))
                    await conn.execute(BARE_ADVANCE_SQL, ids)
                claims.append(time.perf_counter() - claim_started)
                claimed += len(ids)
                left.difference_update(i.int for i in ids)
            drain = time.perf_counter() - started
    finally:
        await producer.stop()
        await conn.close()
    cpu_after = cpu_now(bench)
    ordered = sorted(claims)
    return {
        "jobs": len(job_ids), "claim_size": BARE_CLAIM, "claims": len(claims),
        "drain_seconds": round(drain, 3), "jobs_per_second": round(len(job_ids) / drain, 1),
        "claim_seconds_p50": _round(percentile(ordered, 0.5)), "claim_seconds_p99": _round(percentile(ordered, 0.99)),
        "jobs_claimed_in_all": claimed, "other_jobs_due_before": ahead,
        "cpu_share": cpu_share(cpu_before, cpu_after, drain),
    }


async def main(args: argparse.Namespace) -> None:
    started, started_at = time.monotonic(), datetime.now(UTC)
    async with bench_stack() as bench:
        with step(console, "starting the simulator, gateway and collector"):
            await bench.start_simulator(accounts_per_platform=50)
            await bench.start("gateway", "sma_gateway", bench.service_env())
            await bench.start("collector", "sma_collector", bench.service_env())  # default budgets
            await ensure_topics(bench.kafka, [TopicSpec(COMMANDS_TOPIC, 6, 1), TopicSpec(BARE_TOPIC, 6, 1)])
        dispatches = Dispatches(bench.kafka)
        await dispatches.start()
        try:
            first_due, dispatches.due = await seed(bench, args.jobs)
            with step(console, "starting the scheduler"):
                await bench.start("scheduler", "sma_scheduler", scheduler_env(bench))
            steady = await steady_state(bench, dispatches, first_due, args.minutes)
            console.print(f"  lag at tick p50 {steady['lag_at_tick']['p50']}s p99 {steady['lag_at_tick']['p99']}s "
                          f"({steady['jobs_due_in_window']:,} jobs); by minute: "
                          + ", ".join(f"{m['p50']}/{m['p99']}" for m in steady["per_minute_lag_at_tick"]))
            with_collector_ids, scheduler_ids, bare_ids = await pick_bursts(bench, args.burst, 3)
            console.print("[bold]burst[/], the whole stack running")
            burst_with_collector = await scheduler_burst(bench, dispatches, with_collector_ids)
            # The collector turns every dispatched job into a write at once (rate-limited
            # outcomes), taking about a core the bare loop would not have to share: stopped for
            # the like-for-like comparison.
            with step(console, "stopping the collector"):
                await bench.stop("collector")
            console.print("[bold]burst[/], collector stopped: the scheduler, then the bare loop")
            burst = await scheduler_burst(bench, dispatches, scheduler_ids)
            bare = await bare_loop(bench, bare_ids)
        finally:
            await dispatches.stop()
    details: dict[str, Any] = {
        "jobs": args.jobs, "interval_minutes": INTERVAL_MINUTES, "minutes": args.minutes,
        "scheduler_settings": SCHEDULER_SETTINGS,
        "source": source_state(),
        "stack": ["scheduler", "collector (default budgets)", "gateway", "simulator", "postgres", "redis", "kafka"],
        "steady_state": steady,
        "burst": {"scheduler": burst, "bare_claim_and_publish_loop": bare,
                  "scheduler_with_collector_running": burst_with_collector,
                  "goal_jobs_per_second": GOAL_BURST_JOBS_PER_SECOND},
        "seconds": round(time.monotonic() - started, 1),
    }
    path = write_result("scheduler", started_at, figures(steady, burst, bare, burst_with_collector), details)
    report(details)
    console.print(f"written to {path} in {details['seconds']:.0f}s")


def figures(steady: dict[str, Any], burst: dict[str, Any], bare: dict[str, Any],
            burst_with_collector: dict[str, Any]) -> list[dict[str, object]]:
    ceiling = bare["jobs_per_second"]
    return [
        figure("dispatch_lag_p50_seconds", steady["lag_at_tick"]["p50"], "s"),
        figure("dispatch_lag_p99_seconds", steady["lag_at_tick"]["p99"], "s", goal=GOAL_LAG_P99_SECONDS, at_most=True),
        figure("dispatch_lag_at_delivery_p99_seconds", steady["lag_at_delivery"]["p99"], "s"),
        # The goal (10,000 jobs/s) as a ratio to the ceiling measured in this run.
        figure("burst_jobs_per_second", burst["jobs_per_second"], "jobs/s",
               goal=round(GOAL_BURST_JOBS_PER_SECOND / ceiling, 3) if ceiling else None,
               baseline_name="bare claim-and-publish loop", baseline_value=ceiling),
        figure("burst_drain_seconds", burst["drain_seconds"], "s", goal=GOAL_BURST_DRAIN_SECONDS, at_most=True),
        figure("burst_jobs_per_second_collector_running", burst_with_collector["jobs_per_second"], "jobs/s"),
        figure("burst_drain_seconds_collector_running", burst_with_collector["drain_seconds"], "s"),
    ]


def report(details: dict[str, Any]) -> None:
    steady = details["steady_state"]
    table = Table(title=f"dispatch lag, {details['jobs']:,} jobs every {INTERVAL_MINUTES} min, "
                        f"{steady['window_seconds']:.0f}s window, whole stack")
    for column in ("measure", "jobs", "p50 s", "p90 s", "p99 s", "max s"):
        table.add_column(column, justify="right")
    for label, key in (("at tick (scheduled_for)", "lag_at_tick"), ("at delivery (received)", "lag_at_delivery")):
        row = steady[key]
        table.add_row(label, f"{row['jobs']:,}", *(str(row[k]) for k in ("p50", "p90", "p99", "max")))
    for row in steady["per_minute_lag_at_tick"]:
        table.add_row(f"  minute {row['minute']}", f"{row['jobs']:,}",
                      *(str(row[k]) for k in ("p50", "p90", "p99", "max")))
    hist = steady["lag_histogram_upper_bounds"]
    table.add_row("scheduler histogram (≤ bucket)", "", str(hist["p50_le"]), "", str(hist["p99_le"]), "")
    console.print(table)
    console.print(f"dispatched {steady['jobs_dispatched_per_second']} jobs/s ({steady['jobs_redispatched']:,} of them "
                  f"again), {steady['ticks']} ticks of "
                  f"{steady['mean_tick_seconds']}s on average, undispatched after grace: "
                  f"{steady['undispatched_after_grace']}; CPU share: {steady['cpu_share']}")
    burst, bare = details["burst"]["scheduler"], details["burst"]["bare_claim_and_publish_loop"]
    table = Table(title=f"burst: {burst['jobs']:,} jobs due at once")
    for column in ("dispatcher", "drain s", "jobs/s", "ratio"):
        table.add_column(column, justify="right")
    with_collector = details["burst"]["scheduler_with_collector_running"]
    table.add_row("scheduler, collector running", str(with_collector["drain_seconds"]),
                  str(with_collector["jobs_per_second"]),
                  f"{with_collector['jobs_per_second'] / bare['jobs_per_second']:.2f}")
    table.add_row("scheduler", str(burst["drain_seconds"]), str(burst["jobs_per_second"]),
                  f"{burst['jobs_per_second'] / bare['jobs_per_second']:.2f}")
    table.add_row(f"bare loop (claims of {bare['claim_size']}, p99 claim {bare['claim_seconds_p99']}s)",
                  str(bare["drain_seconds"]), str(bare["jobs_per_second"]), "1.00")
    console.print(table)
    console.print(f"scheduler burst: {burst['commands']} commands, mean tick {burst['mean_tick_seconds']}s, "
                  f"first claim {burst['first_claim_after_ready_seconds']}s after ready, "
                  f"CPU share {burst['cpu_share_from_start']}; bare loop CPU share {bare['cpu_share']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="active jobs (default 1,000,000)")
    parser.add_argument("--minutes", type=float, default=5.0, help="steady-state window (default 5, at most 10)")
    parser.add_argument("--burst", type=int, default=100_000, help="jobs due at once (default 100,000)")
    arguments = parser.parse_args()
    if not 0 < arguments.minutes <= 10 or not 0 < arguments.burst <= arguments.jobs // 5:
        parser.error("--minutes must be in (0, 10] and --burst in (0, --jobs / 5]")
    asyncio.run(main(arguments))
