"""ANALYZE every table of the schema (a partitioned table with all its partitions), so the
planner's row estimates follow the data, including freshly created or emptied partitions."""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

TOP_LEVEL_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""


@dataclass(frozen=True, slots=True)
class TableRun:
    table: str
    seconds: float
    bytes_before: int = 0
    bytes_after: int = 0


@dataclass(frozen=True, slots=True)
class AnalyzeReport:
    tables: tuple[TableRun, ...]

    def summary(self) -> dict[str, object]:
        return {"tables": len(self.tables), "seconds": round(sum(t.seconds for t in self.tables), 3)}


async def top_level_tables(conn: asyncpg.Connection) -> list[str]:
    return [r["relname"] for r in await conn.fetch(TOP_LEVEL_TABLES)]


def quote_ident(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


async def analyze(conn: asyncpg.Connection) -> AnalyzeReport:
    runs = []
    for table in await top_level_tables(conn):
        started = time.perf_counter()
        await conn.execute(f"ANALYZE {quote_ident(table)}")
        runs.append(TableRun(table, time.perf_counter() - started))
    return AnalyzeReport(tuple(runs))
