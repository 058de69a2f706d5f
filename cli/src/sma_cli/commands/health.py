"""`sma health --url URL`: every service's readiness in one table; exit code 0 only if all ok."""

from __future__ import annotations

import argparse
import asyncio
import os

import aiohttp
from rich.table import Table

from sma_cli.console import out, print_json

SERVICE_URL_VARS = {
    "gateway": "SMA_GATEWAY_URL", "scheduler": "SMA_SCHEDULER_URL", "collector": "SMA_COLLECTOR_URL",
    "maintenance": "SMA_MAINTENANCE_URL",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    health = sub.add_parser("health", help="readiness of every service")
    health.add_argument("--url", action="append", default=[],
                        help="a service's base URL (repeatable); default: the SMA_*_URL variables")
    health.add_argument("--json", action="store_true")
    health.add_argument("--timeout", type=float, default=5.0)
    health.set_defaults(fn=lambda a: asyncio.run(_health(a)))


async def _probe(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    try:
        async with session.get(f"{url.rstrip('/')}/health/ready") as resp:
            body = await resp.json(content_type=None)
            return {"url": url, "http_status": resp.status, **body}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {"url": url, "http_status": None, "status": "unreachable", "checks": {}, "error": repr(exc)}


async def _health(args: argparse.Namespace) -> int:
    urls = args.url or [os.environ[v] for v in SERVICE_URL_VARS.values() if os.environ.get(v)]
    if not urls:
        urls = ["http://127.0.0.1:8080"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=args.timeout)) as session:
        results = await asyncio.gather(*(_probe(session, u) for u in urls))
    if args.json:
        print_json(results)
    else:
        table = Table("service", "status", "checks")
        for r in results:
            checks = r.get("checks") or {}
            assert isinstance(checks, dict)
            detail = ", ".join(f"{k}={v.get('status')}" for k, v in checks.items()) or str(r.get("error", ""))
            colour = {"ok": "green", "degraded": "yellow"}.get(str(r["status"]), "red")
            table.add_row(str(r["url"]), f"[{colour}]{r['status']}[/{colour}]", detail)
        out.print(table)
    return 0 if all(r["status"] in ("ok", "degraded") for r in results) else 1
