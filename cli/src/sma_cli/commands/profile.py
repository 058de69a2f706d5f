"""`sma profile`: latency profile of the gateway's main endpoints, or a load test (`--load-test`).

The profile sends `--requests` GETs to each endpoint in turn, one at a time, and reports
p50/p95/p99; the ids in `/api/accounts/{id}` and `/api/jobs/{id}` are the first ones the list
routes return. The load test runs `--concurrent-users` closed-loop users over the same mix for
`--duration` seconds and reports req/s, latency and answers by status.

A 429 is this API key's rate limit (`SMA_API_RATE_LIMIT_*`): it is waited out and counted apart,
never as an error. Exit codes: 0 when the error rate (answers of 400 or more other than 429, and
requests with no answer, over all requests that were not throttled) is at most `--max-error-rate`
(default 1%); 1 when it is higher, when nothing succeeded, or when the gateway cannot be reached;
2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import aiohttp
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from sma_cli.commands.jobs import DEFAULT_URL, Gateway, GatewayError
from sma_cli.console import err, fail, out, print_json
from sma_cli.latency import Endpoint, Outcome, Tally, timed_get
from sma_cli.loadtest import LoadResult, run_load

MAX_THROTTLE_WAIT = 10.0  # seconds; a longer Retry-After means a key limited far below a profile's needs
SERIES_METRIC = "followers"  # every platform but Reddit's subreddits has it; an empty series is fine too


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("profile", help="latency profile of the gateway's endpoints, or a load test",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=os.environ.get("SMA_GATEWAY_URL", DEFAULT_URL),
                   help="the gateway's base URL (default: $SMA_GATEWAY_URL)")
    p.add_argument("--token", default=os.environ.get("SMA_API_TOKEN"),
                   help="API key with the 'read' scope (default: $SMA_API_TOKEN)")
    p.add_argument("--requests", type=int, default=20, help="profile: requests per endpoint (default %(default)s)")
    p.add_argument("--load-test", action="store_true", help="run a load test instead of the profile")
    p.add_argument("--duration", type=float, default=60.0, help="load test: seconds (default %(default)s)")
    p.add_argument("--concurrent-users", type=int, default=50,
                   help="load test: closed-loop users (default %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default %(default)s)")
    p.add_argument("--max-error-rate", type=float, default=0.01,
                   help="exit 1 above this share of errors, 0..1 (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.set_defaults(fn=_profile)


def _invalid(args: argparse.Namespace) -> str | None:
    if not args.token:
        return "no API key: pass --token or set SMA_API_TOKEN"
    if args.requests < 1 or args.concurrent_users < 1:
        return "--requests and --concurrent-users must be at least 1"
    if not 0 < args.duration <= 3600 or not 0 < args.timeout <= 300:
        return "--duration must be within (0, 3600] and --timeout within (0, 300] seconds"
    if not 0 <= args.max_error_rate <= 1:
        return "--max-error-rate must be between 0 and 1"
    return None


def _profile(args: argparse.Namespace) -> int:
    if problem := _invalid(args):
        return fail(problem, 2)
    try:
        return asyncio.run(_run(args))
    except GatewayError as exc:
        return fail(str(exc))


async def _run(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    headers = {"Authorization": f"Bearer {args.token}", "Accept": "application/json"}
    timeout = aiohttp.ClientTimeout(total=args.timeout, connect=min(args.timeout, 5.0))
    users = args.concurrent_users if args.load_test else 1
    connector = aiohttp.TCPConnector(limit=users, limit_per_host=users)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        endpoints, skipped = await discover(Gateway(session, base, args.token))
        if args.load_test:
            result = await _load(session, base, headers, endpoints, args)
            report = load_report(base, result, args.max_error_rate)
        else:
            tallies = await _latency_profile(session, base, headers, endpoints, args.requests)
            report = profile_report(base, endpoints, tallies, args.max_error_rate)
    report["skipped"] = skipped
    if args.json:
        print_json(report)
    else:
        _render(report)
    return 0 if report["passed"] else 1


async def discover(gateway: Gateway) -> tuple[list[Endpoint], list[str]]:
    """The endpoint mix, with real ids taken from the list routes; and what had to be left out."""
    endpoints = [
        Endpoint("/health/ready", "/health/ready"),
        Endpoint("/api/platforms", "/api/platforms"),
        Endpoint("/api/jobs", "/api/jobs?limit=50"),
        Endpoint("/api/accounts", "/api/accounts?limit=50"),
        Endpoint("/api/leaderboard", f"/api/leaderboard?metric={SERIES_METRIC}"),
    ]
    skipped: list[str] = []
    accounts, _ = await gateway.call("GET", "/api/accounts", params={"limit": "1"})
    if accounts:
        account = f"/api/accounts/{accounts[0]['id']}"
        endpoints += [
            Endpoint("/api/accounts/{id}", account),
            Endpoint("/api/accounts/{id}/summary", f"{account}/summary"),
            Endpoint("/api/accounts/{id}/metrics", f"{account}/metrics?metric={SERIES_METRIC}"),
            Endpoint("/api/accounts/{id}/metrics (day)",
                     f"{account}/metrics?metric={SERIES_METRIC}&resolution=day"),
        ]
    else:
        skipped.append("/api/accounts/{id}…: no account yet")
    jobs, _ = await gateway.call("GET", "/api/jobs", params={"limit": "1"})
    if jobs:
        job = f"/api/jobs/{jobs[0]['id']}"
        endpoints += [Endpoint("/api/jobs/{id}", job),
                      Endpoint("/api/jobs/{id}/executions", f"{job}/executions")]
    else:
        skipped.append("/api/jobs/{id}…: no job yet")
    return endpoints, skipped


def _progress() -> Progress:
    # Drawn on stderr, and only on a terminal: stdout stays clean for --json and for pipes.
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=not err.is_terminal, transient=True)


async def _latency_profile(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], endpoints: list[Endpoint], n: int
) -> dict[str, Tally]:
    tallies = {e.name: Tally() for e in endpoints}
    with _progress() as progress:
        task = progress.add_task("profiling", total=n * len(endpoints))
        for endpoint in endpoints:
            progress.update(task, description=endpoint.name)
            done = 0
            while done < n:
                outcome: Outcome = await timed_get(session, base + endpoint.path, headers)
                tallies[endpoint.name].add(outcome)
                if outcome.throttled:
                    if outcome.retry_after > MAX_THROTTLE_WAIT:
                        raise GatewayError(f"this API key is rate limited for {outcome.retry_after:.0f} s; "
                                           "use a key with a higher limit (SMA_API_RATE_LIMIT_OVERRIDES)")
                    await asyncio.sleep(outcome.retry_after)
                    continue
                done += 1
                progress.advance(task)
    return tallies


async def _load(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], endpoints: list[Endpoint],
    args: argparse.Namespace,
) -> LoadResult:
    with _progress() as progress:
        task = progress.add_task("load test", total=round(args.duration))

        def tick(result: LoadResult, elapsed: float) -> None:
            progress.update(task, completed=min(round(elapsed), round(args.duration)),
                            description=result.live_figures(elapsed, 0.0))

        return await run_load(session, base, headers, endpoints, duration=args.duration,
                              users=args.concurrent_users, on_tick=tick)


def _verdict(total: Tally, max_error_rate: float) -> dict[str, Any]:
    succeeded = total.requests - total.errors - total.throttled
    return {"error_rate": round(total.error_rate, 4), "max_error_rate": max_error_rate,
            "passed": succeeded > 0 and total.error_rate <= max_error_rate}


def profile_report(
    base: str, endpoints: list[Endpoint], tallies: dict[str, Tally], max_error_rate: float
) -> dict[str, Any]:
    total = Tally()
    for tally in tallies.values():
        total.latencies += tally.latencies
        total.statuses.update(tally.statuses)
        total.errors += tally.errors
        total.throttled += tally.throttled
    return {
        "mode": "profile", "url": base,
        "endpoints": [{"endpoint": e.name, "path": e.path, **tallies[e.name].summary()} for e in endpoints],
        "total": total.summary(), **_verdict(total, max_error_rate),
    }


def load_report(base: str, result: LoadResult, max_error_rate: float) -> dict[str, Any]:
    return {
        "mode": "load_test", "url": base, "duration_seconds": result.duration_seconds,
        "elapsed_seconds": round(result.elapsed_seconds, 3), "concurrent_users": result.users,
        "requests_per_second": round(result.requests_per_second, 1),
        "endpoints": [{"endpoint": name, **t.summary()} for name, t in result.by_endpoint.items()],
        "total": result.total.summary(), **_verdict(result.total, max_error_rate),
    }


def _render(report: dict[str, Any]) -> None:
    kind = "load test" if report["mode"] == "load_test" else "latency profile"
    table = Table(Column("GET", overflow="fold"), *(Column(h, justify="right", no_wrap=True) for h in _FIGURES),
                  title=f"{kind} of {report['url']} (latency in ms)", box=box.SIMPLE_HEAD)
    for row in [*report["endpoints"], {"endpoint": "[bold]all[/bold]", **report["total"]}]:
        table.add_row(row["endpoint"], str(row["requests"]), _red(row["errors"]), str(row["throttled"]),
                      *(f"{row[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")))
    out.print(table)
    statuses = Table("answer", Column("count", justify="right"), title="answers by status")
    for status, count in report["total"]["statuses"].items():
        colour = "green" if status.startswith(("2", "3")) else "yellow" if status == "429" else "red"
        statuses.add_row(f"[{colour}]{status}[/{colour}]", str(count))
    out.print(statuses)
    if report["mode"] == "load_test":
        out.print(f"{report['concurrent_users']} users for {report['elapsed_seconds']:.1f} s: "
                  f"[bold]{report['requests_per_second']:.1f} req/s[/bold], {report['total']['requests']} requests")
    for note in report["skipped"]:
        out.print(f"[yellow]skipped[/yellow] {note}")
    if report["total"]["throttled"]:
        out.print(f"[yellow]{report['total']['throttled']} answers were 429:[/yellow] this API key's rate limit "
                  "(counted apart, not as errors). To measure the gateway rather than the limit, use a key "
                  "with an override in SMA_API_RATE_LIMIT_OVERRIDES.")
    verdict = "[green]ok[/green]" if report["passed"] else "[red]too many errors[/red]"
    out.print(f"error rate {report['error_rate']:.2%} (limit {report['max_error_rate']:.2%}): {verdict}")


_FIGURES = ("n", "errors", "429", "p50", "p95", "p99", "max")


def _red(count: int) -> str:
    return f"[red]{count}[/red]" if count else "0"
