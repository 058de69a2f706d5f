"""Storage benchmark: how fast points go in, how much room they take, how fast series come out.

1. Ingest: `--points` points (default 10,000,000) for `--accounts` accounts (default 10,000), one
   per account every `--interval-minutes` (default 15) up to now, into the partitioned
   `metric_points`. Ticks alternate between the collector's own write path
   (`sma_collector.repository.write_points`, idempotent) and plain `COPY` into the same table,
   so both meet the same table state; the figure is the write path's points/s against COPY's.
   `--probes` accounts (default 5) also get a point every interval for a whole year (untimed).
   Also in the details: the write path's rate when every point is already stored (its
   ON CONFLICT DO NOTHING fallback, what a redelivered command costs).
2. Bytes per point on disk (table plus indexes and TOAST): the hot partitions (today and
   yesterday, raw rows), and the closed days after the maintenance `rollups` and `compact`
   operations (the compact table, plus what the emptied partitions still hold).
3. Reads, through the gateway's repository functions, before and after compaction: they must be
   identical; then the p99 latency of a 1-year daily series and of a 7-day raw series for one
   (probe) account, over `--samples` reads each.

Usage: `make bench-storage` (or `python bench/storage/run.py [--points N] [--accounts N]`).
Writes bench/results/storage.json. The full run takes several minutes; `--points 500000` is a
quick one for development.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_stack, figure, step, write_result
from ingest import FOLLOWERS, Plan, ensure_partitions, ingest, load_probes, rewrite

from sma_gateway.repositories import analytics
from sma_gateway.repositories import metrics as gateway
from sma_maintenance.operations import compact, refresh_rollups

console = Console()
GOAL_WRITE_RATIO = 0.5
GOAL_CLOSED_BYTES_PER_POINT = 20.0
GOAL_READ_P99_MS = 20.0
POOL_SIZE = 2
WARM_UP_READS = 5 * POOL_SIZE * 2
REWRITE_TICKS = 10

PARTITION_SIZES = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'metric_points'::regclass AND substring(c.relname from '_p(\\d{{8}})$') {op} $1
"""


async def partition_bytes(conn: asyncpg.Connection, op: str, day: str) -> int:
    """Size of the daily partitions whose YYYYMMDD compares with `day` by `op` (>= or <)."""
    assert op in (">=", "<")
    return int(await conn.fetchval(PARTITION_SIZES.format(op=op), day))


async def bytes_per_point(conn: asyncpg.Connection, hot_from: datetime) -> dict[str, float]:
    day = f"{hot_from:%Y%m%d}"
    hot_points = await conn.fetchval("SELECT count(*) FROM metric_points WHERE ts >= $1", hot_from)
    closed_raw = await conn.fetchval("SELECT count(*) FROM metric_points WHERE ts < $1", hot_from)
    compacted = await conn.fetchval("SELECT coalesce(sum(cardinality(ts)), 0) FROM metric_points_compact")
    closed_bytes = await partition_bytes(conn, "<", day) + await conn.fetchval(
        "SELECT pg_total_relation_size('metric_points_compact')")
    closed_points = closed_raw + compacted
    return {
        "hot_points": hot_points, "hot_bytes": await partition_bytes(conn, ">=", day),
        "hot_bytes_per_point": round(await partition_bytes(conn, ">=", day) / max(hot_points, 1), 2),
        "closed_points": closed_points, "closed_compacted_points": compacted, "closed_bytes": closed_bytes,
        "closed_bytes_per_point": round(closed_bytes / max(closed_points, 1), 2),
    }


def reads(pool: asyncpg.Pool, plan: Plan) -> dict[str, Callable[[int], Awaitable[object]]]:
    """The two timed reads, by account, as the gateway's series make them (`sma_gateway.series`:
    raw points, and whole day buckets from the rollups plus the points after their watermark)."""
    midnight = datetime(plan.now.year, plan.now.month, plan.now.day, tzinfo=UTC)
    return {
        "1-year daily series": lambda account: analytics.rolled_buckets(
            pool, account, FOLLOWERS, "day", midnight - timedelta(days=365), midnight + timedelta(days=1), 400,
            rounded=False),
        "7-day raw series": lambda account: gateway.raw_points(
            pool, account, FOLLOWERS, plan.now - timedelta(days=7), plan.now, 10_000, rounded=False),
    }


async def everything_read(pool: asyncpg.Pool, plan: Plan) -> dict[str, object]:
    """What the comparison before and after compaction looks at: both reads of every probe, and
    the whole raw series and the hourly and daily buckets aggregated from the points (not from the
    rollups) of a sample of the other accounts."""
    out: dict[str, object] = {}
    for name, read in reads(pool, plan).items():
        for account in plan.probe_ids:
            out[f"{name} {account}"] = await read(account)
    start, end = plan.first_day - timedelta(days=1), plan.now + timedelta(days=1)
    for account in range(1, plan.accounts + 1, max(1, plan.accounts // 20)):
        out[f"raw {account}"] = await gateway.raw_points(pool, account, FOLLOWERS, start, end, 100_000, rounded=False)
        for unit in ("hour", "day"):
            out[f"{unit} {account}"] = await gateway.buckets(pool, account, FOLLOWERS, unit, start, end, 100_000,
                                                             rounded=False)
    out["points"] = await pool.fetchval("SELECT count(*) FROM metric_points_all")
    return out


async def p99_ms(read: Callable[[int], Awaitable[object]], accounts: range, samples: int) -> dict[str, float]:
    # Steady state first: Postgres plans a prepared statement afresh for its first five runs on
    # each connection before it settles on a generic plan, and the buffer cache warms up.
    for n in range(WARM_UP_READS):
        await read(accounts[n % len(accounts)])
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        await read(accounts[n % len(accounts)])
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"p50_ms": round(timings[len(timings) // 2], 2),
            "p99_ms": round(timings[max(0, math.ceil(0.99 * len(timings)) - 1)], 2)}


async def main(args: argparse.Namespace) -> None:
    started_at = datetime.now(UTC)
    plan = Plan.for_points(args.points, args.accounts, args.interval_minutes, args.probes)
    details: dict[str, object] = {"accounts": plan.accounts, "ticks": plan.ticks, "interval_minutes":
                                  args.interval_minutes, "probe_accounts": plan.probes, "from": plan.start}
    async with bench_stack() as bench:
        conn = await asyncpg.connect(bench.database_url)
        pool = await asyncpg.create_pool(bench.database_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
        try:
            with step(console, "partitions and a year of points for the probe accounts"):
                await ensure_partitions(conn, plan)
                details["probe_points"] = await load_probes(conn, plan)
            with Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console) as progress:
                task = progress.add_task("ingest", total=plan.ticks * plan.accounts)
                rates = await ingest(conn, plan, lambda n: progress.advance(task, n))
            with step(console, "the write path again over stored points (a redelivery)"):
                again = await rewrite(conn, plan, REWRITE_TICKS)
            details["ingest"] = {"points": rates.points, "seconds": rates.seconds,
                                 "write_path_all_already_stored_points_per_second": round(again)}
            with step(console, "analyze"):
                await conn.execute("ANALYZE metric_points")
            hot_from = datetime(plan.now.year, plan.now.month, plan.now.day, tzinfo=UTC) - timedelta(days=1)
            details["before_compaction"] = await bytes_per_point(conn, hot_from)
            with step(console, "rollups (maintenance)"):
                started = time.perf_counter()
                await refresh_rollups(conn)
                details["rollups_seconds"] = round(time.perf_counter() - started, 1)
            with step(console, "reads before compaction"):
                before = await everything_read(pool, plan)
            with step(console, "compact (maintenance)"):
                started = time.perf_counter()
                report = await compact(conn, lock_timeout_ms=60_000)
                details["compact_seconds"] = round(time.perf_counter() - started, 1)
                details["compact"] = report.summary()
            await conn.execute("ANALYZE metric_points, metric_points_compact")
            sizes = await bytes_per_point(conn, hot_from)
            details["after_compaction"] = sizes
            with step(console, "reads after compaction"):
                identical = await everything_read(pool, plan) == before
            latency = {}
            with step(console, f"read latency ({args.samples} reads each)"):
                for name, read in reads(pool, plan).items():
                    latency[name] = await p99_ms(read, plan.probe_ids, args.samples)
            details["latency"] = latency
        finally:
            await pool.close()
            await conn.close()
    write_rate, copy_rate = rates.per_second("write_path"), rates.per_second("copy")
    figures = [
        figure("collector write path", round(write_rate), "points/s", goal=GOAL_WRITE_RATIO,
               baseline_name="plain COPY", baseline_value=round(copy_rate)),
        figure("hot partitions", sizes["hot_bytes_per_point"], "bytes/point"),
        figure("closed days, raw (before compact)", details["before_compaction"]["closed_bytes_per_point"],  # type: ignore[index]
               "bytes/point"),
        figure("closed days, compacted", sizes["closed_bytes_per_point"], "bytes/point",
               goal=GOAL_CLOSED_BYTES_PER_POINT, at_most=True),
        figure("reads identical after compaction", 1.0 if identical else 0.0, "bool", goal=1.0),
        *(figure(f"{name} p99", latency[name]["p99_ms"], "ms", goal=GOAL_READ_P99_MS, at_most=True)
          for name in latency),
    ]
    path = write_result("storage", started_at, figures, details)
    table = Table(title=f"storage: {sum(rates.points.values()):,} points, {plan.accounts:,} accounts")
    for column in ("figure", "value", "unit", "baseline", "ratio", "goal", "meets"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(*(str(f[k]) if f[k] is not None else "-" for k in
                        ("name", "value", "unit", "baseline_value", "ratio", "goal", "meets_goal")))
    console.print(table)
    console.print(f"results: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000_000, help="points to ingest (default 10,000,000)")
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts (default 10,000)")
    parser.add_argument("--interval-minutes", type=int, default=15, help="minutes between points (default 15)")
    parser.add_argument("--probes", type=int, default=5, help="accounts with a year of points (default 5)")
    parser.add_argument("--samples", type=int, default=200, help="timed reads of each series (default 200)")
    args = parser.parse_args()
    if min(args.points, args.accounts, args.interval_minutes, args.probes, args.samples) < 1:
        parser.error("every count must be at least 1")
    asyncio.run(main(args))
