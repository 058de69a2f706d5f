"""`sma db maintenance --operation NAME`: the maintenance service's operations, on demand.

Exit codes: 0 done; 1 when `check` (alone or in `full`) found something that needs action, or
when another session is running the same operation; 2 for invalid arguments."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict

import asyncpg

from sma_cli.commands.maintenance_view import render
from sma_cli.console import err, fail, out, print_json
from sma_cli.settings import CliSettings
from sma_common.db.pool import asyncpg_dsn
from sma_maintenance.operations import (
    FULL_SEQUENCE,
    FULL_WARNING,
    OPERATIONS,
    CheckReport,
    OperationBusy,
    OperationParams,
    Report,
    Retention,
    run_operation,
)
from sma_maintenance.operations.check import DEFAULT_LONG_QUERY_SECONDS, DEFAULT_MIN_PARTITION_DAYS_AHEAD
from sma_maintenance.operations.cleanup import DEFAULT_POINTS_RETENTION_DAYS, DEFAULT_ROLLUP_RETENTION_DAYS
from sma_maintenance.operations.compact import DEFAULT_MIN_AGE_DAYS
from sma_maintenance.operations.partitions import DEFAULT_DAYS_AHEAD


def register(db: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    m = db.add_parser("maintenance", help="run a maintenance operation now (as the maintenance service does)")
    m.add_argument("--operation", required=True, choices=OPERATIONS)
    m.add_argument("--days", type=int, default=DEFAULT_POINTS_RETENTION_DAYS,
                   help="cleanup: keep this many days of points and executions (default %(default)s)")
    m.add_argument("--rollup-days", type=int, default=DEFAULT_ROLLUP_RETENTION_DAYS,
                   help="cleanup: keep this many days of rollups (default %(default)s)")
    m.add_argument("--dry-run", action="store_true", help="cleanup: report what would go, drop nothing")
    m.add_argument("--full", action="store_true",
                   help="vacuum: VACUUM FULL (rewrites tables under an exclusive lock)")
    m.add_argument("--days-ahead", type=int, default=DEFAULT_DAYS_AHEAD,
                   help="partitions: create this many days ahead (default %(default)s)")
    m.add_argument("--min-age-days", type=int, default=DEFAULT_MIN_AGE_DAYS,
                   help="compact: take days that ended at least this many days ago (default %(default)s)")
    m.add_argument("--min-days-ahead", type=int, default=DEFAULT_MIN_PARTITION_DAYS_AHEAD,
                   help="check: fewer days of future partitions need action (default %(default)s)")
    m.add_argument("--long-query-seconds", type=float, default=DEFAULT_LONG_QUERY_SECONDS,
                   help="check: report queries and transactions older than this (default %(default)s)")
    m.add_argument("--verbose", action="store_true", help="stats: list every partition")
    m.add_argument("--json", action="store_true")
    m.set_defaults(fn=lambda a: asyncio.run(_maintenance(a)))


def _params(args: argparse.Namespace) -> OperationParams:
    return OperationParams(
        days_ahead=args.days_ahead, retention=Retention(args.days, args.days, args.rollup_days),
        dry_run=args.dry_run, vacuum_full=args.full, long_query_seconds=args.long_query_seconds,
        min_partition_days_ahead=args.min_days_ahead, compact_min_age_days=args.min_age_days,
    )


def _invalid(args: argparse.Namespace) -> str | None:
    if min(args.days, args.rollup_days, args.days_ahead, args.min_age_days) < 1:
        return "--days, --rollup-days, --days-ahead and --min-age-days must be at least 1"
    if args.full and args.operation != "vacuum":
        return "--full applies to --operation vacuum only"
    return None


async def _maintenance(args: argparse.Namespace) -> int:
    if problem := _invalid(args):
        return fail(problem, 2)
    if args.operation == "vacuum" and args.full:
        err.print(f"[yellow]warning:[/yellow] {FULL_WARNING}")
    parts = FULL_SEQUENCE if args.operation == "full" else (args.operation,)
    conn = await asyncpg.connect(asyncpg_dsn(CliSettings().database_url.get_secret_value()),
                                 server_settings={"application_name": "sma-cli"})
    reports: dict[str, Report] = {}
    try:
        for part in parts:
            with err.status(f"maintenance: {part}"):
                reports[part] = await run_operation(conn, part, _params(args))
            if not args.json:
                render(out, reports[part], verbose=args.verbose)
    except OperationBusy as exc:
        return fail(f"{exc}; try again when it is done")
    finally:
        await conn.close()
    if args.json:
        print_json({name: asdict(report) for name, report in reports.items()})  # type: ignore[call-overload]
    check = reports.get("check")
    return 1 if isinstance(check, CheckReport) and check.needs_action else 0
