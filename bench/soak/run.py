"""Soak: the whole stack for `--minutes` (SOAK_MINUTES, default 10) at a steady load, then what
held and what did not.

The stack: embedded Postgres, Redis and Kafka-protocol broker, the simulator, and one scheduler,
collector, maintenance and gateway as processes (bench/harness.py). The load: `--accounts`
accounts (default 2,000, spread over the six platforms), each polled every `--interval-minutes`
(default 1), their first runs spread over one interval; and `--gateway-rps` (default 50) reads
per second on the gateway. Platform budgets are lifted (the simulator's and the collectors'), so
the soak measures the pipeline, not the platforms' limits.

Reported, per service and overall (bench/results/soak.json and a table):
- memory: resident set (process tree) at the end of warm-up and at the end, the growth, and the
  least-squares slope after warm-up (MB/min) and over its second half. Goal: the second half's
  slope at most 1 MB/min for the four services (no unbounded growth: a process still warming up
  levels off there, a leak keeps its slope). The simulator keeps a ledger of every
  observation it served (the completeness check needs it), so it grows by design: reported only.
- errors: gateway 5xx and requests with no answer (goal 0), executions other than `success`
  (goal 0; nothing is faulted here), dead letters.
- lag: the scheduler's dispatch lag p95 (`sma_scheduler_dispatch_lag_seconds`, over the run),
  the collector's consumer lag (`sma_collector_consumer_lag_messages`: its peak and at the end).
- completeness: when the load stops the scheduler is stopped, the collector drains (consumer lag 0,
  nothing in flight, executions steady). Expected points are the observations the simulator's
  ledger says it served (each figure of each account in each answer); stored points are the rows
  of `metric_points`; lost = served - stored for each account and metric where that is positive
  (goal 0), summed per platform and metric. The soak tracks the simulator's generated accounts,
  not its named demo ones (suspended, moved, hidden counts on purpose), so every execution should
  be a success and every served figure a point. Also: every
  dispatched job has exactly one execution (scheduler's `jobs_dispatched_total` vs rows of
  `job_executions`) and no job is left in flight.

Usage: `make soak [SOAK_MINUTES=N] [SOAK_ARGS="--accounts 500 --gateway-rps 20"]`, or
`python bench/soak/run.py --minutes 2`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SIM_UNLIMITED,
    UNLIMITED_BUDGETS,
    Bench,
    bench_stack,
    figure,
    histogram_quantile,
    scrape,
    seed_jobs,
    sim_accounts,
    total,
    write_result,
)
from probes import GatewayLoad, MemoryTrack, tree_rss

from sma_common.api_keys import create_key
from sma_common.platforms import METRIC_IDS, Platform
from sma_simulator.profiles import PROFILES

console = Console()
SERVICES = ("scheduler", "collector", "maintenance", "gateway")
MEMORY_SLOPE_GOAL = 1.0  # MB per minute
DISPATCH_LAG_GOAL = 5.0  # seconds, p95
METRIC_NAMES = {v: k for k, v in METRIC_IDS.items()}


async def start_stack(bench: Bench, args: argparse.Namespace) -> tuple[list[int], str]:
    """Simulator, accounts and jobs, the four services, a read key; the soak accounts' ids and the key."""
    per_platform = math.ceil(args.accounts / len(Platform))
    named = max(len(p.demo_accounts) for p in PROFILES.values())
    await bench.start_simulator(accounts_per_platform=per_platform + named + 5, ledger_size=1_000_000,
                                **SIM_UNLIMITED)
    listed = await sim_accounts(bench.sim_url)
    account_ids: list[int] = []
    remaining = args.accounts
    for platform in Platform:
        take = min(per_platform, remaining)
        remaining -= take
        # The named demo accounts are suspended, moved, hidden... on purpose (the unit and e2e
        # tests' business); the soak tracks the plain generated ones, which must all be read.
        special = {d.handle.lower() for d in PROFILES[platform].demo_accounts}
        plain = [a for a in listed[platform.value] if a["handle"].lower() not in special]
        jobs = await seed_jobs(bench.database_url, platform, plain[:take], interval_minutes=args.interval_minutes)
        account_ids += [account for _, account, _, _ in jobs]
    conn = await asyncpg.connect(bench.database_url)
    try:
        # First runs spread over one interval, as jobs created over time would be.
        await conn.execute("UPDATE monitoring_jobs SET next_run_at = now() + random() * $1 * interval '1 minute'",
                           float(args.interval_minutes))
        _, token = await create_key(conn, "soak", ["read"])
    finally:
        await conn.close()
    env = bench.service_env(**UNLIMITED_BUDGETS)
    for name in ("maintenance", "collector", "scheduler", "gateway"):
        await bench.start(name, f"sma_{name}", env)
    return account_ids, token


async def sample(bench: Bench, memory: dict[str, MemoryTrack], lags: list[tuple[float, float]], t0: float) -> None:
    now = time.monotonic() - t0
    for name, process in bench.processes.items():
        if process.pid is not None:
            memory.setdefault(name, MemoryTrack()).add(now, tree_rss(process.pid))
    for server in bench.servers:
        if server.pid is not None:
            memory.setdefault(type(server).__name__.removeprefix("Embedded").lower(), MemoryTrack()).add(
                now, tree_rss(server.pid))
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        lags.append((now, total(await scrape(bench.urls["collector"]), "sma_collector_consumer_lag_messages")))


async def counts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM job_executions GROUP BY status")
        points = await conn.fetchval("SELECT count(*) FROM metric_points")
    finally:
        await conn.close()
    return {**{r["status"]: r["n"] for r in rows}, "points": points}


async def soak(bench: Bench, args: argparse.Namespace, load: GatewayLoad) -> dict[str, object]:
    """Run the load for the duration with a progress bar, sampling every `--sample-seconds`."""
    memory: dict[str, MemoryTrack] = {}
    lags: list[tuple[float, float]] = []
    seconds = args.minutes * 60
    t0 = time.monotonic()
    scheduler_before = await scrape(bench.urls["scheduler"])
    load_task = asyncio.create_task(load.run(t0 + seconds))
    columns = (TextColumn("[bold]soak"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("soak", total=seconds, status="")
        while (elapsed := time.monotonic() - t0) < seconds:
            await sample(bench, memory, lags, t0)
            seen = await counts(bench.database_url)
            status = (f"executions {sum(v for k, v in seen.items() if k != 'points'):,} · points {seen['points']:,} · "
                      f"gateway {load.sent:,} req, {load.server_errors} 5xx · consumer lag "
                      f"{lags[-1][1] if lags else '?'}")
            progress.update(task, completed=elapsed, status=status)
            await asyncio.sleep(min(args.sample_seconds, max(0.0, seconds - elapsed)))
        progress.update(task, completed=seconds)
    await load_task
    await sample(bench, memory, lags, t0)
    return {"memory": memory, "lags": lags, "scheduler_before": scheduler_before, "seconds": time.monotonic() - t0}


async def drain(bench: Bench, timeout: float) -> tuple[float, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """Stop dispatching (every job paused, a few ticks for the scheduler to see it, its counters
    read, then stopped), then wait until the collector has written everything it was sent."""
    started = time.monotonic()
    conn = await asyncpg.connect(bench.database_url)
    try:
        await conn.execute("UPDATE monitoring_jobs SET status = 'paused' WHERE status = 'active'")
    finally:
        await conn.close()
    await asyncio.sleep(5)
    scheduler_after = await scrape(bench.urls["scheduler"])
    await bench.stop("scheduler")
    steady, last = 0, None
    while time.monotonic() - started < timeout:
        metrics = await scrape(bench.urls["collector"])
        idle = (total(metrics, "sma_collector_consumer_lag_messages") == 0
                and total(metrics, "sma_collector_commands_in_flight") == 0)
        seen = await counts(bench.database_url)
        steady = steady + 1 if idle and seen == last else 0
        if steady >= 3:
            break
        last = seen
        await asyncio.sleep(1)
    return time.monotonic() - started, scheduler_after


async def completeness(bench: Bench) -> dict[str, object]:
    """Served (simulator ledger) against stored (metric_points), per account and metric: an
    account-metric with fewer rows than observations served lost the difference (extra rows
    elsewhere cannot hide it); summed per platform/metric for the report."""
    async with aiohttp.ClientSession() as http, http.get(f"{bench.sim_url}/_sim/ledger") as resp:
        ledger = await resp.json()
    served: dict[tuple[str, str, str], int] = {}
    for platform, record in ledger.items():
        for observation in record["observations"]:
            key = (platform, observation["account_id"], observation["metric"])
            served[key] = served.get(key, 0) + 1
    conn = await asyncpg.connect(bench.database_url)
    try:
        rows = await conn.fetch("SELECT a.platform, a.external_id, p.metric, count(*) AS n FROM metric_points p "
                                "JOIN accounts a ON a.id = p.account_id GROUP BY 1, 2, 3")
        executions = {r["status"]: r["n"] for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM job_executions GROUP BY status")}
        points_reported = await conn.fetchval("SELECT coalesce(sum(points_written), 0) FROM job_executions")
        in_flight = await conn.fetchval("SELECT count(*) FROM monitoring_jobs WHERE last_dispatched_at IS NOT NULL "
                                        "AND (last_run_at IS NULL OR last_dispatched_at > last_run_at)")
        duplicates = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM job_executions "
                                         "GROUP BY job_id, scheduled_for HAVING count(*) > 1) d")
    finally:
        await conn.close()
    stored = {(r["platform"], r["external_id"], METRIC_NAMES.get(r["metric"], str(r["metric"]))): r["n"]
              for r in rows}
    by_metric: dict[str, dict[str, int]] = {}
    short: list[str] = []
    for key in sorted(set(served) | set(stored)):
        entry = by_metric.setdefault(f"{key[0]}/{key[2]}", {"served": 0, "stored": 0, "lost": 0})
        lost = max(0, served.get(key, 0) - stored.get(key, 0))
        entry["served"] += served.get(key, 0)
        entry["stored"] += stored.get(key, 0)
        entry["lost"] += lost
        if lost and len(short) < 20:
            short.append(f"{'/'.join(key)}: served {served.get(key, 0)}, stored {stored.get(key, 0)}")
    return {"served": sum(served.values()), "stored": sum(stored.values()),
            "lost": sum(v["lost"] for v in by_metric.values()), "by_metric": by_metric, "first_short": short,
            "executions": executions, "points_reported_by_executions": points_reported,
            "jobs_left_in_flight": in_flight, "duplicate_executions": duplicates}


def report_figures(args: argparse.Namespace, run: dict[str, object], load: GatewayLoad,
                   data: dict[str, object], collector: dict[tuple[str, tuple[tuple[str, str], ...]], float],
                   warmup: float) -> tuple[list[dict[str, object]], dict[str, object]]:
    memory: dict[str, MemoryTrack] = run["memory"]  # type: ignore[assignment]
    lags: list[tuple[float, float]] = run["lags"]  # type: ignore[assignment]
    before, after = run["scheduler_before"], run["scheduler_after"]
    dispatched = total(after, "sma_scheduler_jobs_dispatched_total")  # type: ignore[arg-type]
    lag_p95 = histogram_quantile(before, after, "sma_scheduler_dispatch_lag_seconds", 0.95)  # type: ignore[arg-type]
    executions: dict[str, int] = data["executions"]  # type: ignore[assignment]
    recorded = sum(executions.values())
    seconds: float = run["seconds"]  # type: ignore[assignment]
    memory_report = {name: track.report(warmup) for name, track in memory.items()}
    figures = [
        figure("gateway 5xx responses", load.server_errors, "responses", goal=0, at_most=True),
        figure("gateway requests without an answer", sum(load.errors.values()), "requests", goal=0, at_most=True),
        figure("gateway reads per second", round(load.sent / seconds, 1), "req/s", goal=0.95,
               baseline_name="target rate", baseline_value=args.gateway_rps),
        figure("gateway read p99", load.quantile_ms(0.99), "ms"),
        figure("points lost (served - stored)", data["lost"], "points", goal=0, at_most=True),  # type: ignore[arg-type]
        figure("points stored", data["stored"], "points", goal=1.0,  # type: ignore[arg-type]
               baseline_name="points served (simulator ledger)", baseline_value=data["served"]),  # type: ignore[arg-type]
        figure("executions other than success", recorded - executions.get("success", 0), "executions", goal=0,
               at_most=True),
        figure("dispatched jobs without exactly one execution", abs(dispatched - recorded), "jobs", goal=0,
               at_most=True),
        figure("jobs left in flight after the drain", data["jobs_left_in_flight"], "jobs", goal=0,  # type: ignore[arg-type]
               at_most=True),
        figure("dispatch lag p95", lag_p95, "s", goal=DISPATCH_LAG_GOAL, at_most=True),
        figure("collector consumer lag, peak", max((v for _, v in lags), default=None), "messages"),
        figure("collector consumer lag at the end", lags[-1][1] if lags else None, "messages"),
        figure("dead letters", total(collector, "sma_collector_dead_letters_total"), "commands", goal=0, at_most=True),
    ]
    for name in SERVICES:
        mem = memory_report.get(name, {})
        # Judged on the second half: a process still warming up flattens there, a leak does not.
        figures.append(figure(f"{name} RSS slope, second half", mem.get("late_slope_mb_per_min"), "MB/min",
                              goal=MEMORY_SLOPE_GOAL, at_most=True))
        figures.append(figure(f"{name} RSS growth after warm-up", mem.get("growth_mb"), "MB"))
    details = {
        "load": {"accounts": args.accounts, "interval_minutes": args.interval_minutes,
                 "gateway_rps": args.gateway_rps, "minutes": args.minutes, "warmup_seconds": warmup},
        "gateway": {"sent": load.sent, "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
                    "errors": load.errors, "p50_ms": load.quantile_ms(0.5), "p99_ms": load.quantile_ms(0.99),
                    "first_5xx": load.five_xx},
        "memory_mb": memory_report, "completeness": data, "jobs_dispatched": dispatched,
        "executions_recorded": recorded, "dispatch_lag_p95_seconds": lag_p95,
        "consumer_lag_samples": [(round(t), v) for t, v in lags],
    }
    return figures, details


def print_report(figures: list[dict[str, object]], details: dict[str, object]) -> None:
    table = Table(title="soak")
    for column in ("figure", "value", "goal", "met"):
        table.add_column(column)
    for f in figures:
        met = {True: "[green]yes", False: "[red]no", None: ""}[f["meets_goal"]]  # type: ignore[index]
        goal = "" if f["goal"] is None else f"{'≥' if f['baseline_value'] else '≤'} {f['goal']}"
        value = f"{f['value']} {f['unit']}" + (f" ({f['ratio']}x {f['baseline_name']})" if f["ratio"] else "")
        table.add_row(str(f["name"]), value, goal, met)
    console.print(table)
    memory = Table(title="resident memory per process (MB)")
    for column in ("process", "after warm-up", "end", "growth", "slope/min", "late slope/min", "peak"):
        memory.add_column(column)
    for name, m in details["memory_mb"].items():  # type: ignore[attr-defined]
        memory.add_row(name, *(str(m[k]) for k in ("start_mb", "end_mb", "growth_mb", "slope_mb_per_min",
                                                   "late_slope_mb_per_min", "peak_mb")))
    console.print(memory)
    data = details["completeness"]
    console.print(f"points served {data['served']:,}, stored {data['stored']:,}, lost {data['lost']:,}; "  # type: ignore[index]
                  f"executions {data['executions']}")  # type: ignore[index]


async def main(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    warmup = args.warmup_seconds if args.warmup_seconds is not None else min(60.0, args.minutes * 60 / 5)
    console.print(f"[bold]soak[/]: {args.accounts:,} accounts every {args.interval_minutes} min, "
                  f"{args.gateway_rps:g} gateway reads/s, {args.minutes:g} min (warm-up {warmup:g}s)")
    async with bench_stack() as bench:
        with console.status("starting the stack and seeding"):
            account_ids, token = await start_stack(bench, args)
        load = GatewayLoad(bench.urls["gateway"], token, account_ids, args.gateway_rps)
        run = await soak(bench, args, load)
        with console.status("stopping the scheduler and draining the collector"):
            drained, run["scheduler_after"] = await drain(bench, args.drain_seconds)
        collector = await scrape(bench.urls["collector"])
        data = await completeness(bench)
    figures, details = report_figures(args, run, load, data, collector, warmup)
    details["drain_seconds"] = round(drained, 1)
    path = write_result("soak", started_at, figures, details)
    print_report(figures, details)
    console.print(f"written to {path}")
    return 0 if all(f["meets_goal"] is not False for f in figures) else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES") or 10))
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--interval-minutes", type=int, default=1)
    parser.add_argument("--gateway-rps", type=float, default=50.0)
    parser.add_argument("--warmup-seconds", type=float, default=None,
                        help="memory is measured from here (default: a fifth of the run, at most 60 s)")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.accounts < len(Platform) or args.gateway_rps <= 0 or args.interval_minutes < 1:
        parser.error("--minutes and --gateway-rps must be positive, --accounts at least 6, --interval-minutes >= 1")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
