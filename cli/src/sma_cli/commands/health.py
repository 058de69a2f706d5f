"""`sma health`: every service's readiness and details in one table, with an exit code for scripts.

The services are the `--url`s given plus every `SMA_*_URL` variable set (gateway, scheduler,
collector, maintenance, as `make up`'s stack.env writes them); `--only` checks just the `--url`s.
Each is asked for `/health/detailed` (readiness checks plus version, uptime, pool, consumer lag,
last tick, maintenance leader). Exit codes: 0 when every service is ok or degraded (still
serving), 1 when one fails or cannot be reached (with `--strict`, also when one is degraded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

import aiohttp
from rich.table import Table

from sma_cli.console import out, print_json

SERVICE_URL_VARS = {
    "gateway": "SMA_GATEWAY_URL", "scheduler": "SMA_SCHEDULER_URL", "collector": "SMA_COLLECTOR_URL",
    "maintenance": "SMA_MAINTENANCE_URL",
}
DEFAULT_URL = "http://127.0.0.1:8080"
SERVING = ("ok", "degraded")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    health = sub.add_parser("health", help="readiness and details of every service",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    health.add_argument("--url", action="append", default=[],
                        help="a service's base URL (repeatable); added to the SMA_*_URL variables")
    health.add_argument("--only", action="store_true", help="check only the --url services")
    health.add_argument("--strict", action="store_true", help="exit 1 when a service is degraded too")
    health.add_argument("--json", action="store_true")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds per service (default %(default)s)")
    health.set_defaults(fn=lambda a: asyncio.run(_health(a)))


def service_urls(explicit: list[str], only: bool) -> list[str]:
    from_env = [] if only else [os.environ[v] for v in SERVICE_URL_VARS.values() if os.environ.get(v)]
    urls = list(dict.fromkeys(u.rstrip("/") for u in [*explicit, *from_env]))  # in order, no repeats
    return urls or [DEFAULT_URL]


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as resp:
        return resp.status, await resp.json(content_type=None)


async def probe(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    try:
        status, body = await _get(session, f"{url}/health/detailed")
        if status == 404:  # a service without the detailed route still has readiness
            status, body = await _get(session, f"{url}/health/ready")
        if not isinstance(body, dict) or "status" not in body:
            raise ValueError(f"HTTP {status} without a health document")
        return {"url": url, "http_status": status, **body}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {"url": url, "http_status": None, "status": "unreachable", "checks": {},
                "error": str(exc) or type(exc).__name__}


async def _health(args: argparse.Namespace) -> int:
    urls = service_urls(args.url, args.only)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=args.timeout)) as session:
        results = await asyncio.gather(*(probe(session, u) for u in urls))
    if args.json:
        print_json(results)
    else:
        out.print(render(results))
    serving = ("ok",) if args.strict else SERVING
    return 0 if all(r["status"] in serving for r in results) else 1


def render(results: list[dict[str, Any]]) -> Table:
    table = Table("service", "status", "version", "uptime", "checks", "details", title="SMA health")
    for r in results:
        colour = {"ok": "green", "degraded": "yellow"}.get(str(r["status"]), "red")
        uptime = r.get("uptime_seconds")
        table.add_row(
            f"{r.get('service', '?')}\n[dim]{r['url']}[/dim]", f"[{colour}]{r['status']}[/{colour}]",
            str(r.get("version", "-")), _duration(uptime) if isinstance(uptime, int | float) else "-",
            "\n".join(_check(name, c) for name, c in (r.get("checks") or {}).items()) or str(r.get("error", "")),
            "\n".join(details(r)) or "-",
        )
    return table


def _check(name: str, check: dict[str, Any]) -> str:
    status = str(check.get("status"))
    colour = {"ok": "green", "degraded": "yellow"}.get(status, "red")
    latency = f" {check['latency_ms']:.0f} ms" if isinstance(check.get("latency_ms"), int | float) else ""
    detail = f": {check['detail']}" if check.get("detail") else ""
    return f"{name} [{colour}]{status}[/{colour}]{latency}{detail}"


def details(r: dict[str, Any]) -> list[str]:
    """The few figures of /health/detailed an operator looks at first, per service kind."""
    lines: list[str] = []
    pool = r.get("database_pool") or r.get("postgres")
    if isinstance(pool, dict) and "max_size" in pool:
        lines.append(f"pool {pool.get('size', 0) - pool.get('idle', 0)} busy of {pool['max_size']}")
    if isinstance(consumer := r.get("consumer"), dict):
        lines.append(f"consumer lag {consumer.get('lag')} on {len(consumer.get('assigned_partitions') or [])} "
                     "partitions")
    if isinstance(ticker := r.get("ticker"), dict):
        if ticker.get("last_tick_at"):
            lines.append(f"last tick {_age(str(ticker['last_tick_at']))} ago")
        pressure = ticker.get("pressure") or {}
        if pressure.get("late"):
            lines.append(f"[yellow]{pressure['late']} jobs late[/yellow]")
        held = {p: h.get("reason") if isinstance(h, dict) else h for p, h in (pressure.get("held") or {}).items()}
        if held:
            lines.append(f"[yellow]held: {', '.join(f'{p} ({why})' for p, why in held.items())}[/yellow]")
    if isinstance(maintenance := r.get("maintenance"), dict):
        lines.append("leader" if maintenance.get("leader") else "standby")
        failed = [task for task, run in (maintenance.get("last_runs") or {}).items()
                  if isinstance(run, dict) and run.get("status") == "error"]
        if failed:
            lines.append(f"[red]last run failed: {', '.join(failed)}[/red]")
    if isinstance(cache := r.get("cache"), dict) and cache.get("redis_skipped"):
        lines.append("[yellow]Redis skipped (serving from Postgres)[/yellow]")
    return lines


def _age(iso: str) -> str:
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    except ValueError:
        return iso
    return _duration(max(seconds, 0.0))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"
