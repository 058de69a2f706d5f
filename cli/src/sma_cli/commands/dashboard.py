"""`sma dashboard`: a live console view of the key figures, read from every service's `/metrics`.

Scrapes the gateway, scheduler, collector and maintenance services every `--interval` seconds
and shows rates and percentiles over the last interval (see `sma_cli.dashboard_figures`); a
service that does not answer is shown as down. Without `--console-only` it first prints the
Grafana link when one is configured (`--grafana-url`, `$SMA_GRAFANA_URL`) and opens it in a
graphical browser when there is one.
`--once` scrapes twice, `--interval` apart, prints one snapshot (`--json` for scripts) and exits:
0 when at least one service answered, 1 when none did. Ctrl-C ends the live view.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import webbrowser
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import aiohttp
from rich.console import Group
from rich.live import Live
from rich.table import Column, Table

from sma_cli.console import err, fail, out, print_json
from sma_cli.dashboard_figures import SERVICES, Scrape, figures, scrape

DEFAULT_URLS = {"gateway": "http://127.0.0.1:8080", "scheduler": "http://127.0.0.1:8081",
                "collector": "http://127.0.0.1:8082", "maintenance": "http://127.0.0.1:8083"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("dashboard", help="live console view of the key figures from the services' /metrics",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--url", dest="gateway_url", default=_default("gateway"),
                   help="the gateway's base URL (default: $SMA_GATEWAY_URL)")
    for name in SERVICES[1:]:
        d.add_argument(f"--{name}-url", default=_default(name),
                       help=f"the {name}'s base URL (default: $SMA_{name.upper()}_URL)")
    d.add_argument("--interval", type=float, default=2.0, help="seconds between scrapes (default %(default)s)")
    d.add_argument("--once", action="store_true", help="print one snapshot (two scrapes, --interval apart) and exit")
    d.add_argument("--json", action="store_true", help="with --once: print the snapshot as JSON")
    d.add_argument("--console-only", action="store_true", help="never print or open a Grafana link")
    d.add_argument("--grafana-url", default=os.environ.get("SMA_GRAFANA_URL"),
                   help="Grafana's base URL, for the link (default: $SMA_GRAFANA_URL)")
    d.add_argument("--timeout", type=float, default=3.0, help="seconds per scrape (default %(default)s)")
    d.set_defaults(fn=_dashboard)


def _graphical() -> bool:
    # Only a graphical browser: on a bare terminal `webbrowser` would start a text one (lynx,
    # w3m) that takes over the very terminal the dashboard is about to draw on.
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _default(name: str) -> str:
    return os.environ.get(f"SMA_{name.upper()}_URL") or DEFAULT_URLS[name]


def _dashboard(args: argparse.Namespace) -> int:
    if not 0.2 <= args.interval <= 3600 or not 0 < args.timeout <= 60:
        return fail("--interval must be within [0.2, 3600] and --timeout within (0, 60] seconds", 2)
    if args.json and not args.once:
        return fail("--json needs --once (the live view is for people)", 2)
    if not args.console_only and args.grafana_url:
        link = f"{args.grafana_url.rstrip('/')}/d/sma-overview"  # deploy/grafana/dashboards/sma-overview.json
        out.print(f"Grafana: {link}")
        if _graphical():
            webbrowser.open(link)
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    urls = {name: getattr(args, f"{name}_url") for name in SERVICES}
    timeout = aiohttp.ClientTimeout(total=args.timeout, connect=min(args.timeout, 2.0))
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=8)) as session:

        async def snapshot() -> dict[str, Scrape]:
            scrapes = await asyncio.gather(*(scrape(session, url) for url in urls.values()))
            return dict(zip(urls, scrapes, strict=True))

        with err.status("scraping /metrics twice for rates…") if err.is_terminal else nullcontext():
            before = await snapshot()
            await asyncio.sleep(args.interval)
            after = await snapshot()
        if args.once:
            view = report(before, after)
            print_json(view) if args.json else out.print(render(view))
            return 0 if any(s.up for s in after.values()) else 1
        with Live(render(report(before, after)), console=out, refresh_per_second=4, screen=False) as live:
            while True:
                before, after = after, await _after(snapshot, args.interval)
                live.update(render(report(before, after)))


async def _after(snapshot: Any, interval: float) -> dict[str, Scrape]:
    await asyncio.sleep(interval)
    result: dict[str, Scrape] = await snapshot()
    return result


def report(before: dict[str, Scrape], after: dict[str, Scrape]) -> dict[str, Any]:
    return {
        "at": datetime.fromtimestamp(max(s.at for s in after.values()), UTC).isoformat(timespec="seconds"),
        "interval_seconds": round(after["gateway"].at - before["gateway"].at, 2),
        "services": {name: {"url": s.url, "up": s.up, "version": s.version, "error": s.error}
                     for name, s in after.items()},
        "figures": figures(before, after),
    }


# (figure key, label, unit, service): the order of the figures table.
ROWS = (
    ("request_rate_per_second", "gateway requests", "/s", "gateway"),
    ("request_latency_p50_ms", "gateway latency p50", "ms", "gateway"),
    ("request_latency_p99_ms", "gateway latency p99", "ms", "gateway"),
    ("error_5xx_ratio", "gateway 5xx share", "%", "gateway"),
    ("cache_hit_ratio", "cache hit ratio", "%", "gateway"),
    ("jobs_dispatched_per_second", "jobs dispatched", "/s", "scheduler"),
    ("dispatch_lag_p50_seconds", "dispatch lag p50", "s", "scheduler"),
    ("dispatch_lag_p99_seconds", "dispatch lag p99", "s", "scheduler"),
    ("due_jobs", "jobs due", "", "scheduler"),
    ("late_jobs", "jobs late", "", "scheduler"),
    ("last_tick_age_seconds", "last tick", "s ago", "scheduler"),
    ("consumer_lag_messages", "consumer lag", "messages", "collector"),
    ("points_written_per_second", "points written", "/s", "collector"),
    ("executions_per_second", "executions", "/s", "collector"),
    ("rate_limited", "rate-limited platforms", "", "scheduler, collector"),
    ("maintenance_leader", "maintenance leader", "", "maintenance"),
    ("maintenance_findings", "check findings", "", "maintenance"),
    ("maintenance_task_errors", "task errors", "", "maintenance"),
)


def _value(view: dict[str, Any], key: str, unit: str) -> str:
    figs = view["figures"]
    if key == "rate_limited":
        if "held_platforms" not in figs and "rate_limited_platforms" not in figs:
            return "-"
        names = sorted(set(figs.get("held_platforms", [])) | set(figs.get("rate_limited_platforms", [])))
        return f"[yellow]{', '.join(names)}[/yellow]" if names else "none"
    value = figs.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "[red]no[/red]"
    if unit == "%":
        return f"{value:.1%}"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def render(view: dict[str, Any]) -> Group:
    services = Table("service", "status", "version", "url", title=f"SMA at {view['at']}")
    for name, s in view["services"].items():
        status = "[green]up[/green]" if s["up"] else f"[red]down[/red] ({s['error'][:60]})"
        services.add_row(name, status, s["version"] or "-", s["url"])
    table = Table("figure", Column("value", justify="right"), "from",
                  title=f"over the last {view['interval_seconds']:g} s")
    for key, label, unit, service in ROWS:
        table.add_row(label, _value(view, key, unit), service)
    return Group(services, table)
