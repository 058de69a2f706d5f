"""Create daily partitions ahead of time, so an insert never fails for a missing partition; and
the partition listing the other operations (stats, check, cleanup, rollups) read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS, limit_lock_wait

PARTITIONED_TABLES = ("metric_points", "job_executions")
DEFAULT_DAYS_AHEAD = 7

LIST_PARTITIONS = """
SELECT c.relname AS name, substring(c.relname from '_p(\\d{8})$') AS day
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass
ORDER BY c.relname
"""


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    day: date


@dataclass(frozen=True, slots=True)
class TablePartitions:
    table: str
    created: int
    partitions: int
    oldest: date | None
    newest: date | None


@dataclass(frozen=True, slots=True)
class PartitionReport:
    tables: tuple[TablePartitions, ...]

    @property
    def created(self) -> int:
        return sum(t.created for t in self.tables)

    def summary(self) -> dict[str, object]:
        return {"created": self.created, "tables": [
            {"table": t.table, "partitions": t.partitions, "created": t.created,
             "oldest": str(t.oldest), "newest": str(t.newest)} for t in self.tables]}


def _day(yyyymmdd: str) -> date:
    return datetime.strptime(yyyymmdd, "%Y%m%d").date()


async def list_partitions(conn: asyncpg.Connection, table: str) -> list[Partition]:
    """The table's daily partitions (named `<table>_pYYYYMMDD`), oldest first."""
    rows = await conn.fetch(LIST_PARTITIONS, table)
    return sorted((Partition(r["name"], _day(r["day"])) for r in rows if r["day"]), key=lambda p: p.day)


async def partition_range(conn: asyncpg.Connection, table: str, created: int = 0) -> TablePartitions:
    parts = await list_partitions(conn, table)
    return TablePartitions(table, created, len(parts), parts[0].day if parts else None,
                           parts[-1].day if parts else None)


async def ensure_partitions(conn: asyncpg.Connection, days_ahead: int = DEFAULT_DAYS_AHEAD, *,
                            lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> PartitionReport:
    """Partitions from today (UTC) through `days_ahead` days ahead, for every partitioned table."""
    tables = []
    for table in PARTITIONED_TABLES:
        async with conn.transaction():
            await limit_lock_wait(conn, lock_timeout_ms)
            created = await conn.fetchval(
                "SELECT sma_ensure_daily_partitions($1, (now() AT TIME ZONE 'UTC')::date, $2)", table, days_ahead + 1
            )
        tables.append(await partition_range(conn, table, created))
    return PartitionReport(tuple(tables))
