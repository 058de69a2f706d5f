"""Create daily partitions ahead of time, so an insert never fails for a missing partition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

PARTITIONED_TABLES = ("metric_points", "job_executions")

PARTITION_RANGE = """
SELECT count(*) AS partitions,
       min(substring(c.relname from '_p(\\d{8})$')) AS oldest,
       max(substring(c.relname from '_p(\\d{8})$')) AS newest
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass
"""


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


def _day(yyyymmdd: str | None) -> date | None:
    return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])) if yyyymmdd else None


async def ensure_partitions(conn: asyncpg.Connection, days_ahead: int) -> PartitionReport:
    """Partitions from today (UTC) through `days_ahead` days ahead, for every partitioned table."""
    tables = []
    for table in PARTITIONED_TABLES:
        created = await conn.fetchval(
            "SELECT sma_ensure_daily_partitions($1, (now() AT TIME ZONE 'UTC')::date, $2)", table, days_ahead + 1
        )
        row = await conn.fetchrow(PARTITION_RANGE, table)
        tables.append(TablePartitions(table, created, row["partitions"], _day(row["oldest"]), _day(row["newest"])))
    return PartitionReport(tuple(tables))
