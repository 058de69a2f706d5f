"""Two collectors sharing one platform budget: no 429 in steady state, and the budget used.

The simulator enforces Twitch's documented limit (a token bucket of 800 points a minute per
client id) and answers 429 past it. The scheduler dispatches far more Twitch work than that
budget allows (every account every minute), and two collector processes share the client id's
budget through Redis. Per minute, the run reports the API calls the simulator served and the
429s it sent; at the end, the share of the budget used in steady state (after the first minute,
when the bucket's initial burst is spent) against the platform's refill rate, the baseline.

Usage: `make bench-budget [BENCH_MINUTES=10]` (or `python bench/budget/run.py --minutes N`).
Writes bench/results/budget.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import Bench, bench_stack, figure, scrape, seed_jobs, sim_accounts, total, write_result

from sma_common.platforms import Platform

console = Console()
TOKEN_ENDPOINT = "oauth2/token"


async def served(bench: Bench) -> tuple[int, int]:
    """(Twitch API calls served, 429s sent) so far."""
    async with aiohttp.ClientSession() as http, http.get(f"{bench.sim_url}/_sim/ledger?platform=twitch") as resp:
        body = await resp.json()
    by_endpoint = body["twitch"]["requests_by_endpoint"]
    calls = sum(n for e, n in by_endpoint.items() if e != TOKEN_ENDPOINT)
    limited = total(await scrape(bench.sim_url), "sma_simulator_rate_limited_total", platform="twitch")
    return calls, int(limited)


async def main(args: argparse.Namespace) -> None:
    per_minute, started_at = args.points_per_minute, datetime.now(UTC)
    async with bench_stack() as bench:
        await bench.start_simulator(accounts_per_platform=args.accounts + 10, twitch_points_per_minute=per_minute,
                                    ledger_size=0)
        accounts = (await sim_accounts(bench.sim_url))["twitch"][: args.accounts]
        await seed_jobs(bench.database_url, Platform.TWITCH, accounts, interval_minutes=1)
        env = bench.service_env(SMA_TWITCH_RATE_LIMIT_PER_MINUTE=per_minute)
        collectors = ["collector-a", "collector-b"]
        for name in collectors:
            await bench.start(name, "sma_collector", env)
        await bench.start("scheduler", "sma_scheduler", bench.service_env())
        console.print(f"{args.accounts} Twitch jobs every minute (about {args.accounts * 1.02:.0f} calls a minute "
                      f"wanted) against a budget of {per_minute} a minute, two collectors")
        minutes: list[dict[str, float]] = []
        start_calls, start_429 = await served(bench)
        started = time.monotonic()
        cpu_start = {n: bench.cpu_seconds(n) for n in collectors}
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("running", total=args.minutes * 60)
            previous = (start_calls, start_429)
            for minute in range(1, args.minutes + 1):
                while time.monotonic() - started < minute * 60:
                    await asyncio.sleep(1)
                    bar.update(task, completed=min(time.monotonic() - started, args.minutes * 60))
                now = await served(bench)
                row = {"minute": minute, "api_calls": now[0] - previous[0], "http_429": now[1] - previous[1]}
                minutes.append(row)
                bar.console.print(f"minute {minute}: {row['api_calls']} calls, {row['http_429']} 429s")
                previous = now
        elapsed = time.monotonic() - started
        calls, limited = previous[0] - start_calls, previous[1] - start_429
        steady = minutes[1:]
        steady_calls = sum(m["api_calls"] for m in steady)
        steady_429 = sum(m["http_429"] for m in steady)
        collector_cpu = {n: round((bench.cpu_seconds(n) - cpu_start[n]) / elapsed, 3) for n in collectors}
        samples = [await scrape(bench.urls[n]) for n in collectors]
    result = {
        "minutes": args.minutes,
        "jobs": args.accounts,
        "budget_per_minute": per_minute,
        "per_minute": minutes,
        "api_calls": calls,
        "http_429": limited,
        "steady_state": {
            "minutes": len(steady),
            "api_calls": steady_calls,
            "http_429": steady_429,
            # The baseline: what the platform's refill allows in the same span.
            "budget": per_minute * len(steady),
            "budget_used": round(steady_calls / (per_minute * len(steady)), 3) if steady else None,
        },
        "collector_cpu_share": collector_cpu,
        "refused_by_shared_budget": sum(total(s, "sma_collector_rate_limited_total", platform="twitch")
                                        for s in samples),
    }
    figures = [
        figure("steady_state_budget_used", steady_calls, "calls", goal=0.9,
               baseline_name="platform refill in the same span", baseline_value=per_minute * len(steady)),
        figure("steady_state_http_429", steady_429, "responses", goal=0, at_most=True),
        figure("http_429", limited, "responses"),
    ]
    path = write_result("budget", started_at, figures, result)
    console.print(f"steady state: {steady_calls} calls in {len(steady)} min = "
                  f"{result['steady_state']['budget_used']:.1%} of the budget, {steady_429} 429s "  # type: ignore[index]
                  f"(whole run: {calls} calls, {limited} 429s). Written to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=2000, help="Twitch jobs, each due every minute")
    parser.add_argument("--points-per-minute", type=int, default=800, help="the documented Twitch budget")
    asyncio.run(main(parser.parse_args()))
