"""Run an operation by name with one set of parameters: what the service's schedule and the
`sma db maintenance` command both call. Each run holds its operation's lock (`locking`), so
the same operation never runs twice at once, whoever started it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from sma_maintenance.operations.analyze import analyze
from sma_maintenance.operations.check import DEFAULT_LONG_QUERY_SECONDS, DEFAULT_MIN_PARTITION_DAYS_AHEAD, run_checks
from sma_maintenance.operations.cleanup import DEFAULT_BATCH_ROWS, Retention, cleanup
from sma_maintenance.operations.compact import DEFAULT_MIN_AGE_DAYS, compact
from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS, operation_lock
from sma_maintenance.operations.partitions import DEFAULT_DAYS_AHEAD, ensure_partitions
from sma_maintenance.operations.rollups import DEFAULT_CHUNK_HOURS, refresh_rollups
from sma_maintenance.operations.stats import collect_stats
from sma_maintenance.operations.vacuum import vacuum

# `full` runs these, in this order: partitions first (nothing may fail for a missing one),
# rollups before cleanup (points are rolled up before they expire), compact after rollups (it
# takes only rolled-up days) and after cleanup (nothing is compacted only to be dropped),
# statistics after the changes, and the check last, on the result.
FULL_SEQUENCE = ("partitions", "rollups", "cleanup", "compact", "analyze", "stats", "check")
OPERATIONS = (*FULL_SEQUENCE, "vacuum", "full")


class Report(Protocol):
    def summary(self) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class OperationParams:
    days_ahead: int = DEFAULT_DAYS_AHEAD
    retention: Retention = field(default_factory=Retention)
    dry_run: bool = False
    vacuum_full: bool = False
    long_query_seconds: float = DEFAULT_LONG_QUERY_SECONDS
    min_partition_days_ahead: int = DEFAULT_MIN_PARTITION_DAYS_AHEAD
    rollup_chunk_hours: int = DEFAULT_CHUNK_HOURS
    batch_rows: int = DEFAULT_BATCH_ROWS
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    compact_min_age_days: int = DEFAULT_MIN_AGE_DAYS


@dataclass(frozen=True, slots=True)
class FullReport:
    parts: tuple[tuple[str, Report], ...]

    def summary(self) -> dict[str, object]:
        return {name: report.summary() for name, report in self.parts}


async def _run_one(conn: asyncpg.Connection, name: str, p: OperationParams) -> Report:
    match name:
        case "partitions":
            return await ensure_partitions(conn, p.days_ahead, lock_timeout_ms=p.lock_timeout_ms)
        case "rollups":
            return await refresh_rollups(conn, chunk_hours=p.rollup_chunk_hours)
        case "cleanup":
            return await cleanup(conn, p.retention, dry_run=p.dry_run, batch_rows=p.batch_rows,
                                 lock_timeout_ms=p.lock_timeout_ms)
        case "compact":
            return await compact(conn, min_age_days=p.compact_min_age_days, lock_timeout_ms=p.lock_timeout_ms)
        case "analyze":
            return await analyze(conn)
        case "vacuum":
            return await vacuum(conn, full=p.vacuum_full, lock_timeout_ms=p.lock_timeout_ms)
        case "stats":
            return await collect_stats(conn)
        case "check":
            return await run_checks(conn, long_query_seconds=p.long_query_seconds,
                                    min_days_ahead=p.min_partition_days_ahead)
    raise ValueError(f"unknown maintenance operation {name!r}; one of {', '.join(OPERATIONS)}")


async def run_operation(conn: asyncpg.Connection, name: str, params: OperationParams | None = None) -> Report:
    """Run `name` (raising `OperationBusy` if another session is running it right now)."""
    params = params or OperationParams()
    if name == "full":
        parts = []
        for part in FULL_SEQUENCE:
            parts.append((part, await run_operation(conn, part, params)))
        return FullReport(tuple(parts))
    if name not in OPERATIONS:
        raise ValueError(f"unknown maintenance operation {name!r}; one of {', '.join(OPERATIONS)}")
    async with operation_lock(conn, name):
        return await _run_one(conn, name, params)
