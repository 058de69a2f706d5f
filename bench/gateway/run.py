"""Gateway benchmark: cached reads against a bare aiohttp handler, with the same load tool (wrk),
the same concurrency and the same machine, in one run.

1. Baseline: a bare aiohttp JSON handler (`bench/gateway/bare.py`), one process, wrk -t2 -c64.
2. The gateway (one process, real Postgres and Redis) serving a cached
   `GET /api/accounts/{id}/metrics` of one day of one-minute raw points (1,440 points), with an
   API key, the same load: req/s, p50/p99 and the ratio to the baseline (goal: at least 0.5).
3. The same read paced at half the baseline's throughput: p99 (goal: under 10 ms).
4. For reference: the read with the in-process tier off (`SMA_CACHE_LOCAL_MAX_BYTES=0`, two Redis
   round trips per request), and uncached (every request names a new cache entry, so it is
   loaded from Postgres and stored in Redis).

The bench key's rate limit is off (`SMA_API_RATE_LIMIT_OVERRIDES`), or the limiter, not the
read path, would be measured. Usage: `make bench-gateway` (or `python bench/gateway/run.py
[--seconds S]`). Writes bench/results/gateway.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Bench, bench_stack, figure, scrape, step, total, wait_ready, write_result
from wrk import WrkResult, run_wrk

from sma_common.api_keys import create_key
from sma_common.platforms import METRIC_IDS
from sma_devstack import free_port
from sma_devstack.process import ManagedProcess

console = Console()
CONNECTIONS = 64
POINTS = 1440  # one day of one-minute points


async def seed(database_url: str) -> tuple[int, str, str, datetime]:
    """One account with a day of points; a read key. Returns (account, token, prefix, day start)."""
    conn = await asyncpg.connect(database_url)
    try:
        account_id = await conn.fetchval(
            "INSERT INTO accounts (platform, external_id, handle) VALUES ('twitch', 'bench-1', 'bench') RETURNING id"
        )
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
        await conn.copy_records_to_table(
            "metric_points", columns=["account_id", "metric", "ts", "value"],
            records=[(account_id, METRIC_IDS["followers"], start + timedelta(minutes=i), 1000.0 + i)
                     for i in range(POINTS)],
        )
        row, token = await create_key(conn, "bench", ["read"])
    finally:
        await conn.close()
    return account_id, token, row["prefix"], start


async def start_bare(bench: Bench) -> str:
    port = free_port()
    process = ManagedProcess("bare", [sys.executable, str(Path(__file__).with_name("bare.py")), str(port)],
                             bench.workdir / "bare.log")
    process.start()
    bench.processes["bare"] = process
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, process)
    return url


async def start_gateway(bench: Bench, name: str, prefix: str, **extra: object) -> str:
    env = bench.service_env(SMA_API_RATE_LIMIT_OVERRIDES=json.dumps({prefix: 0}), **extra)
    return await bench.start(name, "sma_gateway", env)


def row(table: Table, label: str, result: WrkResult) -> None:
    table.add_row(label, f"{result.rps:,.0f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}", str(result.errors))


async def main(seconds: float) -> int:
    started_at = datetime.now(UTC)
    results: dict[str, WrkResult] = {}
    cache_counts: dict[str, float] = {}
    async with bench_stack() as bench:
        with step(console, "seeding one day of points and a key"):
            account_id, token, prefix, day_start = await seed(bench.database_url)
        auth = {"Authorization": f"Bearer {token}"}
        since = (day_start - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        until = (day_start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/api/accounts/{account_id}/metrics?metric=followers&from={since}&to={until}"

        bare = await start_bare(bench)
        with step(console, f"bare aiohttp handler, {seconds:g}s at -c{CONNECTIONS}"):
            await run_wrk(f"{bare}/hello", seconds=2, connections=CONNECTIONS)  # warm-up
            results["bare"] = await run_wrk(f"{bare}/hello", seconds=seconds, connections=CONNECTIONS)
        await bench.stop("bare")

        gateway = await start_gateway(bench, "gateway", prefix)
        with step(console, f"gateway cached read, {seconds:g}s at -c{CONNECTIONS}"):
            await run_wrk(gateway + path, seconds=2, connections=CONNECTIONS, headers=auth)  # warm-up
            before = await scrape(gateway)
            results["cached"] = await run_wrk(gateway + path, seconds=seconds, connections=CONNECTIONS, headers=auth)
            after = await scrape(gateway)
            for outcome in ("local", "hit", "miss", "coalesced", "bypass", "error"):
                name = "sma_gateway_cache_requests_total"
                cache_counts[outcome] = total(after, name, result=outcome) - total(before, name, result=outcome)
        half = results["bare"].rps / 2
        half_connections = 16
        pace_ms = max(1, round(half_connections * 1000 / half))
        with step(console, f"gateway cached read paced near {half:,.0f} req/s"):
            results["cached_half_load"] = await run_wrk(
                gateway + path, seconds=seconds, connections=half_connections, headers=auth, pace_ms=pace_ms)
        with step(console, f"gateway uncached read (a new cache entry per request), {seconds:g}s at -c16"):
            results["uncached"] = await run_wrk(gateway + path, seconds=seconds, connections=16, headers=auth,
                                                vary=True)
        await bench.stop("gateway")

        redis_only = await start_gateway(bench, "gateway-redis-tier", prefix, SMA_CACHE_LOCAL_MAX_BYTES=0)
        with step(console, f"gateway cached read, in-process tier off, {seconds:g}s at -c{CONNECTIONS}"):
            await run_wrk(redis_only + path, seconds=2, connections=CONNECTIONS, headers=auth)
            results["redis_tier"] = await run_wrk(redis_only + path, seconds=seconds, connections=CONNECTIONS,
                                                  headers=auth)

    bare_rps = results["bare"].rps
    figures = [
        figure("bare aiohttp JSON handler", round(bare_rps), "req/s"),
        figure("cached metrics read (1,440 points)", round(results["cached"].rps), "req/s", goal=0.5,
               baseline_name="bare aiohttp JSON handler", baseline_value=round(bare_rps)),
        figure("cached read p99 at half the bare throughput", results["cached_half_load"].p99_ms, "ms",
               goal=10.0, at_most=True),
        figure("cached read p50", results["cached"].p50_ms, "ms"),
        figure("cached read p99 (saturated)", results["cached"].p99_ms, "ms"),
        figure("bare handler p99 (saturated)", results["bare"].p99_ms, "ms"),
        figure("cached read, in-process tier off (Redis per request)", round(results["redis_tier"].rps), "req/s",
               baseline_name="bare aiohttp JSON handler", baseline_value=round(bare_rps)),
        figure("uncached read (Postgres per request)", round(results["uncached"].rps), "req/s",
               baseline_name="bare aiohttp JSON handler", baseline_value=round(bare_rps)),
    ]
    table = Table("run", "req/s", "p50 ms", "p99 ms", "errors", title="gateway vs bare aiohttp (wrk -t2)")
    row(table, f"bare handler (-c{CONNECTIONS})", results["bare"])
    row(table, f"cached read (-c{CONNECTIONS})", results["cached"])
    row(table, f"cached read paced at ~{half:,.0f} req/s (-c16)", results["cached_half_load"])
    row(table, f"tier off: Redis per request (-c{CONNECTIONS})", results["redis_tier"])
    row(table, "uncached: Postgres per request (-c16)", results["uncached"])
    console.print(table)
    for fig in figures:
        console.print(f"  {fig['name']}: {fig['value']} {fig['unit']}"
                      + (f" (ratio {fig['ratio']})" if fig["ratio"] is not None else "")
                      + ("" if fig["meets_goal"] is None else f" goal {'met' if fig['meets_goal'] else 'MISSED'}"))
    path_written = write_result("gateway", started_at, figures, {
        "runs": {name: result.as_json() for name, result in results.items()},
        "cache_outcomes_during_cached_run": cache_counts, "seconds_per_run": seconds, "connections": CONNECTIONS,
        "points_per_response": POINTS,
    })
    console.print(f"wrote {path_written}")
    errors = sum(result.errors for result in results.values())
    return 1 if errors else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    sys.exit(asyncio.run(main(parser.parse_args().seconds)))
