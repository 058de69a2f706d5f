"""Collector benchmark: how many accounts one API call refreshes, and how many accounts one
collector process refreshes per second.

1. Batching, through the real pipeline: jobs due now in Postgres, the scheduler batching them
   into commands, a collector fetching them from the simulator. Reported per platform: accounts
   refreshed per API call (token requests excluded) against the platform's batch size (the
   baseline), Twitch's users/streams calls apart from its per-channel follower calls.
2. Throughput of one collector process against the simulator answering after 100 ms with no
   rate limit: accounts per second and the process's CPU share, with commands in flight as
   configured, against one command at a time (`SMA_COLLECTOR_MAX_IN_FLIGHT=1`, the baseline)
   measured in the same run.

Usage: `make bench-collector` (or `python bench/collector/run.py [--accounts N] [--latency-ms MS]`).
Writes bench/results/collector.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from harness import (
    SIM_UNLIMITED,
    UNLIMITED_BUDGETS,
    Bench,
    bench_stack,
    executions,
    figure,
    produce_commands,
    seed_jobs,
    sim_accounts,
    wait_for_executions,
    write_result,
)

from sma_common.platforms import MAX_BATCH_SIZE, Platform

console = Console()
TOKEN_ENDPOINTS = {"oauth2/token", "api/v1/access_token"}


async def ledger(bench: Bench) -> dict[str, dict[str, int]]:
    async with aiohttp.ClientSession() as http, http.get(f"{bench.sim_url}/_sim/ledger") as resp:
        body = await resp.json()
    return {p: dict(v["requests_by_endpoint"]) for p, v in body.items()}


def api_calls(before: dict[str, int], after: dict[str, int], endpoints: set[str] | None = None) -> int:
    return sum(n - before.get(e, 0) for e, n in after.items()
               if e not in TOKEN_ENDPOINTS and (endpoints is None or e in endpoints))


async def batching(bench: Bench, accounts: Accounts, per_platform: int) -> dict[str, object]:
    """Every job due at once, dispatched by the scheduler, fetched by one collector."""
    seeded = {p: await seed_jobs(bench.database_url, p, accounts.take(p, per_platform), interval_minutes=600)
              for p in Platform}
    expected = sum(len(j) for j in seeded.values()) + sum((await _counts(bench)).values())
    before = await ledger(bench)
    collector = await bench.start("collector-batching", "sma_collector", bench.service_env(**UNLIMITED_BUDGETS))
    del collector
    await bench.start("scheduler", "sma_scheduler", bench.service_env())
    await wait_for_executions(bench.database_url, expected, timeout=600)
    after = await ledger(bench)
    await bench.stop("scheduler")
    await bench.stop("collector-batching")
    out: dict[str, object] = {}
    for platform in Platform:
        jobs = len(seeded[platform])
        calls = api_calls(before.get(platform.value, {}), after.get(platform.value, {}))
        row: dict[str, object] = {
            "accounts": jobs, "api_calls": calls, "batch_size": MAX_BATCH_SIZE[platform],
            "accounts_per_call": round(jobs / calls, 2) if calls else None,
            "ratio_to_batch_size": round(jobs / calls / MAX_BATCH_SIZE[platform], 3) if calls else None,
        }
        if platform is Platform.TWITCH:
            lookups = api_calls(before.get("twitch", {}), after["twitch"], {"users", "streams"})
            followers = api_calls(before.get("twitch", {}), after["twitch"], {"channels/followers"})
            # Each batch needs /users and /streams: a full batch is 100 accounts per call pair.
            row.update(users_streams_calls=lookups, followers_calls=followers,
                       accounts_per_users_streams_call=round(2 * jobs / lookups, 2) if lookups else None,
                       ratio_to_batch_size=round(2 * jobs / lookups / MAX_BATCH_SIZE[platform], 3)
                       if lookups else None,
                       accounts_per_followers_call=round(jobs / followers, 2) if followers else None)
        if platform is Platform.MASTODON:
            calls_by = {e: n - before.get("mastodon", {}).get(e, 0)
                        for e, n in after["mastodon"].items() if e not in TOKEN_ENDPOINTS}
            # Instances on Mastodon 4.3+ answer the batch route; older ones one account a call.
            batching_instances = {e.split("/")[0] for e, n in calls_by.items()
                                  if e.endswith("/api/v1/accounts") and n
                                  and not calls_by.get(e.split("/")[0] + "/api/v1/accounts/:id")}
            batched = [j for j in seeded[platform] if j[2].split(":")[0] in batching_instances]
            batch_calls = sum(calls_by[f"{i}/api/v1/accounts"] for i in batching_instances)
            row.update(calls_by_endpoint=calls_by, batch_route_accounts=len(batched), batch_route_calls=batch_calls,
                       batch_route_accounts_per_call=round(len(batched) / batch_calls, 2) if batch_calls else None)
        out[platform.value] = row
    return out


class Accounts:
    """The simulator's accounts, handed out once each (an account is tracked by one job)."""

    def __init__(self, accounts: dict[str, list[dict[str, str]]]) -> None:
        self._accounts, self._next = accounts, dict.fromkeys(accounts, 0)

    def take(self, platform: Platform, count: int) -> list[dict[str, str]]:
        start = self._next[platform.value]
        self._next[platform.value] = start + count
        taken = self._accounts[platform.value][start : start + count]
        if len(taken) < count:
            raise RuntimeError(f"the simulator has too few {platform.value} accounts")
        return taken


async def throughput(bench: Bench, accounts: Accounts, *, name: str, in_flight: int,
                     per_platform: dict[Platform, int]) -> dict[str, object]:
    """One collector process, commands produced directly (no scheduler in the way)."""
    env = bench.service_env(SMA_COLLECTOR_MAX_IN_FLIGHT=in_flight, **UNLIMITED_BUDGETS)
    await bench.start(name, "sma_collector", env)
    done = sum((await _counts(bench)).values())
    # Warm-up: the consumer's first group join and every platform's first token and session.
    later = datetime.now(UTC) + timedelta(days=1)  # never due: the scheduler must not take them
    warm = {p: await seed_jobs(bench.database_url, p, accounts.take(p, 1), interval_minutes=600, due=later)
            for p in Platform}
    for platform, jobs in warm.items():
        await produce_commands(bench.kafka, platform, jobs)
    done += len(warm)
    await wait_for_executions(bench.database_url, done, timeout=120)
    out: dict[str, object] = {}
    for platform, count in per_platform.items():
        jobs = await seed_jobs(bench.database_url, platform, accounts.take(platform, count), interval_minutes=600,
                               due=later)
        cpu_before, started = bench.cpu_seconds(name), time.monotonic()
        commands = await produce_commands(bench.kafka, platform, jobs)
        done += len(jobs)
        await wait_for_executions(bench.database_url, done, timeout=900)
        wall = time.monotonic() - started
        cpu = bench.cpu_seconds(name) - cpu_before
        out[platform.value] = {"accounts": len(jobs), "commands": commands, "seconds": round(wall, 2),
                               "accounts_per_second": round(len(jobs) / wall, 1),
                               "cpu_share": round(cpu / wall, 3)}
        console.print(f"  {name} {platform.value}: {len(jobs)} accounts in {wall:.1f}s "
                      f"({len(jobs) / wall:.0f}/s, CPU {cpu / wall:.0%})")
    await bench.stop(name)
    return out


async def _counts(bench: Bench) -> dict[str, int]:
    return await executions(bench.database_url)


async def main(args: argparse.Namespace) -> None:
    started, started_at = time.monotonic(), datetime.now(UTC)
    async with bench_stack() as bench:
        await bench.start_simulator(accounts_per_platform=args.accounts * 3 + 10, latency_ms=args.latency_ms,
                                    ledger_size=0, **SIM_UNLIMITED)
        accounts = Accounts(await sim_accounts(bench.sim_url))
        n = args.accounts
        console.print(f"[bold]throughput[/]: {n} accounts per platform, simulator latency {args.latency_ms:g} ms")
        baseline_counts = {p: min(n, max(MAX_BATCH_SIZE[p] * 2, n // 8)) for p in Platform}
        baseline = await throughput(bench, accounts, name="collector-serial", in_flight=1,
                                    per_platform=baseline_counts)
        concurrent = await throughput(bench, accounts, name="collector", in_flight=args.in_flight,
                                      per_platform=dict.fromkeys(Platform, n))
        console.print("[bold]batching[/]: every job due at once, through the scheduler")
        batches = await batching(bench, accounts, n)
    details: dict[str, object] = {
        "simulator_latency_ms": args.latency_ms,
        "collector_max_in_flight": args.in_flight,
        "batching": batches,
        "throughput": {p.value: {"concurrent": concurrent[p.value], "one_in_flight": baseline[p.value]}
                       for p in Platform},
        "seconds": round(time.monotonic() - started, 1),
    }
    path = write_result("collector", started_at, figures(batches, concurrent, baseline), details)
    report(details)
    console.print(f"written to {path}")


def figures(batches: dict[str, object], concurrent: dict[str, object], baseline: dict[str, object]) -> list[
        dict[str, object]]:
    out = []
    for platform in Platform:
        row: dict[str, Any] = batches[platform.value]  # type: ignore[assignment]
        size = MAX_BATCH_SIZE[platform]
        if platform is Platform.TWITCH:
            out.append(figure("accounts_per_call.twitch.users_streams", row["accounts_per_users_streams_call"],
                              "accounts/call", goal=0.95, baseline_name="batch_size", baseline_value=size))
            out.append(figure("accounts_per_call.twitch.followers", row["accounts_per_followers_call"],
                              "accounts/call", goal=0.95, baseline_name="one per call by design",
                              baseline_value=1))
        elif platform is Platform.MASTODON:
            out.append(figure("accounts_per_call.mastodon.batch_route_instances",
                              row["batch_route_accounts_per_call"], "accounts/call", goal=0.95,
                              baseline_name="batch_size", baseline_value=size))
            out.append(figure("accounts_per_call.mastodon.all_instances", row["accounts_per_call"],
                              "accounts/call", baseline_name="batch_size", baseline_value=size))
        else:
            out.append(figure(f"accounts_per_call.{platform.value}", row["accounts_per_call"], "accounts/call",
                              goal=0.95, baseline_name="batch_size", baseline_value=size))
    for platform in Platform:
        fast: dict[str, Any] = concurrent[platform.value]  # type: ignore[assignment]
        slow: dict[str, Any] = baseline[platform.value]  # type: ignore[assignment]
        out.append(figure(f"accounts_per_second.{platform.value}", fast["accounts_per_second"], "accounts/s",
                          baseline_name="one command in flight", baseline_value=slow["accounts_per_second"]))
        out.append(figure(f"cpu_share.{platform.value}", fast["cpu_share"], "CPU seconds per second"))
    return out


def report(result: dict[str, object]) -> None:
    table = Table(title="accounts refreshed per API call (scheduler → collector → simulator)")
    for column in ("platform", "accounts", "API calls", "per call", "batch size", "ratio"):
        table.add_column(column, justify="right")
    for platform, row in result["batching"].items():  # type: ignore[attr-defined]
        per_call = row.get("accounts_per_users_streams_call") or row["accounts_per_call"]
        label = f"{platform} (users+streams)" if platform == "twitch" else platform
        table.add_row(label, str(row["accounts"]), str(row.get("users_streams_calls", row["api_calls"])),
                      str(per_call), str(row["batch_size"]), str(row["ratio_to_batch_size"]))
        if platform == "mastodon":
            per_call = row["batch_route_accounts_per_call"]
            table.add_row("mastodon (4.3+ instances)", str(row["batch_route_accounts"]),
                          str(row["batch_route_calls"]), str(per_call), str(row["batch_size"]),
                          str(round(per_call / row["batch_size"], 3)))
        if platform == "twitch":
            table.add_row("twitch (followers)", str(row["accounts"]), str(row["followers_calls"]),
                          str(row["accounts_per_followers_call"]), "1", "by design")
    console.print(table)
    table = Table(title=f"one collector process, simulator latency {result['simulator_latency_ms']} ms, no rate limit")
    for column in ("platform", "accounts/s", "CPU share", "1 in flight: accounts/s", "speedup"):
        table.add_column(column, justify="right")
    for platform, row in result["throughput"].items():  # type: ignore[attr-defined]
        fast, slow = row["concurrent"], row["one_in_flight"]
        table.add_row(platform, str(fast["accounts_per_second"]), str(fast["cpu_share"]),
                      str(slow["accounts_per_second"]),
                      f"{fast['accounts_per_second'] / slow['accounts_per_second']:.1f}x")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000, help="accounts per platform (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--in-flight", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
