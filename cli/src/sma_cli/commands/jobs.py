"""`sma jobs list|pause|resume|set-interval`: monitoring jobs through the gateway's HTTP API.

`list` follows the `Link: <…>; rel="next"` pages; the others are one bulk call each
(`POST /api/jobs/pause|resume`, `PATCH /api/jobs`) over the jobs the filters match. An HTTP
error prints the problem's `detail` and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from rich.table import Table
from yarl import URL

from sma_cli.console import err, fail, out, print_json

DEFAULT_URL = "http://127.0.0.1:8080"
PAGE_SIZE = 500
_STATUSES = ("active", "paused")


class GatewayError(Exception):
    """The gateway answered with an error, or could not be reached; `str()` says which."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("SMA_GATEWAY_URL", DEFAULT_URL),
                        help="the gateway's base URL (default: $SMA_GATEWAY_URL)")
    common.add_argument("--token", default=os.environ.get("SMA_API_TOKEN"),
                        help="API key (default: $SMA_API_TOKEN); changes need the 'write' scope")
    common.add_argument("--platform", help="only this platform's jobs (twitch, youtube, ...)")
    common.add_argument("--status", choices=_STATUSES, help="only jobs in this status")
    common.add_argument("--account-id", type=int, help="only this account's job")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per request")

    jobs = sub.add_parser("jobs", help="list, pause, resume and re-time monitoring jobs")
    actions = jobs.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", parents=[common], help="jobs as a table (every page)")
    listing.set_defaults(fn=lambda a: _run(a, _list))

    explicit = argparse.ArgumentParser(add_help=False)
    explicit.add_argument("--all", action="store_true",
                          help="change every job (required when neither --platform nor --account-id is given)")
    pause = actions.add_parser("pause", parents=[common, explicit], help="pause every matching job")
    pause.set_defaults(fn=lambda a: _run(a, _bulk("POST", "/api/jobs/pause", None, "paused")))
    resume = actions.add_parser("resume", parents=[common, explicit],
                                help="resume every matching job (each runs next on its own slot)")
    resume.set_defaults(fn=lambda a: _run(a, _bulk("POST", "/api/jobs/resume", None, "resumed")))
    interval = actions.add_parser("set-interval", parents=[common, explicit],
                                  help="set every matching job's interval (spread over it)")
    interval.add_argument("minutes", type=int, metavar="MINUTES")
    interval.set_defaults(
        fn=lambda a: _run(a, _bulk("PATCH", "/api/jobs", {"interval_minutes": a.minutes}, "re-timed"))
    )


Action = Callable[["Gateway", argparse.Namespace], Awaitable[int]]


def _run(args: argparse.Namespace, action: Action) -> int:
    if not args.token:
        return fail("no API key: pass --token or set SMA_API_TOKEN", 2)
    if args.action != "list" and args.platform is None and args.account_id is None and not args.all:
        return fail("name the jobs to change with --platform or --account-id, or pass --all", 2)

    async def run() -> int:
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await action(Gateway(session, args.url, args.token), args)

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        return fail(str(exc))


class Gateway:
    """The few calls the CLI makes; every failure becomes a `GatewayError`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = URL(base_url.rstrip("/") + "/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def call(
        self, method: str, target: str | URL, *, params: dict[str, str] | None = None, body: object = None
    ) -> tuple[Any, URL | None]:
        """(decoded JSON, next page URL or None)."""
        url = self._base.join(URL(target) if isinstance(target, str) else target)
        try:
            async with self._session.request(method, url, params=params, json=body,
                                             headers=self._headers) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise GatewayError(f"{method} {url.path} failed: HTTP {resp.status}: {_detail(raw, resp)}")
                nxt = resp.links.get("next")
                data = _json(raw) if raw else None
                return data, (self._base.join(URL(str(nxt["url"]))) if nxt else None)
        except aiohttp.ClientError as exc:
            raise GatewayError(f"cannot reach the gateway at {self._base}: {exc}") from None
        except TimeoutError:
            raise GatewayError(f"the gateway at {self._base} did not answer in time") from None


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError(f"the gateway answered something that is not JSON: {raw[:200]!r}") from None


def _detail(raw: bytes, resp: aiohttp.ClientResponse) -> str:
    """The problem+json `detail` (RFC 9457), else the status phrase."""
    try:
        problem = _json(raw)
    except GatewayError:
        problem = None
    if isinstance(problem, dict) and problem.get("detail"):
        return str(problem["detail"])
    return resp.reason or "error"


def _filters(args: argparse.Namespace) -> dict[str, str]:
    params = {"platform": args.platform, "status": args.status,
              "account_id": str(args.account_id) if args.account_id is not None else None}
    if getattr(args, "all", False):
        params["all"] = "true"
    return {name: value for name, value in params.items() if value}


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    jobs: list[dict[str, Any]] = []
    target: URL | None = URL("/api/jobs")
    params: dict[str, str] | None = {**_filters(args), "limit": str(PAGE_SIZE)}
    with err.status("fetching jobs…") as status:
        while target is not None:
            page, target = await gateway.call("GET", target, params=params)
            params = None  # the next link carries the query
            jobs.extend(page)
            status.update(f"fetching jobs… {len(jobs)}")
    if args.json:
        print_json(jobs)
        return 0
    table = Table("id", "platform", "handle", "interval", "status", "next_run_at", "last_status")
    for job in jobs:
        interval = f"{job['interval_minutes']}m"
        if job.get("live_interval_minutes"):
            interval += f" (live {job['live_interval_minutes']}m)"
        colour = "green" if job["status"] == "active" else "yellow"
        last = job.get("last_status") or "-"
        table.add_row(
            str(job["id"]), str(job["platform"]), str(job["handle"]), interval,
            f"[{colour}]{job['status']}[/{colour}]", _when(job.get("next_run_at")),
            last if last in ("success", "-") else f"[red]{last}[/red]",
        )
    out.print(table)
    out.print(f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}")
    return 0


def _when(value: object) -> str:
    if not isinstance(value, str):
        return "-"
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S%z").replace("+0000", "Z")
    except ValueError:
        return value


def _bulk(method: str, path: str, body: object, verb: str) -> Action:
    async def action(gateway: Gateway, args: argparse.Namespace) -> int:
        result, _ = await gateway.call(method, path, params=_filters(args), body=body)
        if args.json:
            print_json(result)
        else:
            out.print(f"{verb}: {result['changed']} of {result['matched']} matching jobs changed")
        return 0

    return action
