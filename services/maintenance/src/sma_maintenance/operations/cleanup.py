"""Retention. Raw points and executions go a whole daily partition at a time (DETACH, then DROP:
no bulk DELETE, no dead tuples, the space is back at once). Compacted points (one row per account,
metric and day) go with the points' retention, and the rollup tables, kept longer, the same way:
their old rows are deleted in bounded batches by an index on the day or bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from sma_maintenance.operations.analyze import quote_ident
from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS, limit_lock_wait
from sma_maintenance.operations.partitions import list_partitions

DEFAULT_POINTS_RETENTION_DAYS = 90
DEFAULT_EXECUTIONS_RETENTION_DAYS = 90
DEFAULT_ROLLUP_RETENTION_DAYS = 730
DEFAULT_BATCH_ROWS = 10_000
ROLLUP_TABLES = ("metric_rollups_hourly", "metric_rollups_daily")
COMPACT_TABLE = "metric_points_compact"

DELETE_BATCH = """
DELETE FROM {table} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2
))
"""


@dataclass(frozen=True, slots=True)
class DroppedPartition:
    table: str
    partition: str
    day: date
    bytes: int


@dataclass(frozen=True, slots=True)
class DeletedRows:
    table: str
    before: datetime
    rows: int


@dataclass(frozen=True, slots=True)
class Retention:
    """Days to keep, per kind of data."""

    points_days: int = DEFAULT_POINTS_RETENTION_DAYS
    executions_days: int = DEFAULT_EXECUTIONS_RETENTION_DAYS
    rollup_days: int = DEFAULT_ROLLUP_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class CleanupReport:
    dry_run: bool
    retention: Retention
    dropped: tuple[DroppedPartition, ...]
    deleted: tuple[DeletedRows, ...]

    @property
    def reclaimed_bytes(self) -> int:
        return sum(p.bytes for p in self.dropped)

    def summary(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "partitions_dropped": len(self.dropped),
                "reclaimed_bytes": self.reclaimed_bytes,
                "rows_deleted": {d.table: d.rows for d in self.deleted}}


async def drop_old_partitions(conn: asyncpg.Connection, table: str, keep_days: int, *, today: date,
                              dry_run: bool, lock_timeout_ms: int) -> list[DroppedPartition]:
    """Drop the partitions whose whole day is older than `keep_days` days before today (UTC):
    with 90, today's partition and the 90 before it stay."""
    cutoff = today - timedelta(days=keep_days)
    dropped = []
    for part in await list_partitions(conn, table):
        if part.day >= cutoff:
            break
        size = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", part.name)
        if not dry_run:
            # One short transaction per partition: the parent's lock is held only for this one.
            async with conn.transaction():
                await limit_lock_wait(conn, lock_timeout_ms)
                await conn.execute(f"ALTER TABLE {quote_ident(table)} DETACH PARTITION {quote_ident(part.name)}")
                await conn.execute(f"DROP TABLE {quote_ident(part.name)}")
        dropped.append(DroppedPartition(table, part.name, part.day, size))
    return dropped


async def delete_old_rows(conn: asyncpg.Connection, table: str, before: datetime, *, dry_run: bool,
                          batch_rows: int) -> DeletedRows:
    """Delete the rows of a rollup table (by bucket) or of the compact table (by day) before `before`."""
    column, bound = ("day", before.date()) if table == COMPACT_TABLE else ("bucket", before)
    if dry_run:
        count = await conn.fetchval(f"SELECT count(*) FROM {quote_ident(table)} WHERE {column} < $1", bound)
        return DeletedRows(table, before, count)
    total = 0
    statement = DELETE_BATCH.format(table=quote_ident(table), column=column)
    while True:
        status = await conn.execute(statement, bound, batch_rows)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch_rows:
            return DeletedRows(table, before, total)


async def cleanup(conn: asyncpg.Connection, retention: Retention = Retention(), *, dry_run: bool = False,
                  batch_rows: int = DEFAULT_BATCH_ROWS, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
                  now: datetime | None = None) -> CleanupReport:
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    dropped = []
    for table, days in (("metric_points", retention.points_days), ("job_executions", retention.executions_days)):
        dropped += await drop_old_partitions(conn, table, days, today=today, dry_run=dry_run,
                                             lock_timeout_ms=lock_timeout_ms)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    # The same cutoff as the raw partitions': the day `points_days` before today stays.
    expiries = [(COMPACT_TABLE, midnight - timedelta(days=retention.points_days)),
                *((table, midnight - timedelta(days=retention.rollup_days)) for table in ROLLUP_TABLES)]
    deleted = [await delete_old_rows(conn, table, before, dry_run=dry_run, batch_rows=batch_rows)
               for table, before in expiries]
    return CleanupReport(dry_run, retention, tuple(dropped), tuple(deleted))
