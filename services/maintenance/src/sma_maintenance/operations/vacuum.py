"""VACUUM every table of the schema. Plain VACUUM runs beside reads and writes; VACUUM FULL
rewrites each table under an ACCESS EXCLUSIVE lock (every read and write of it waits), so it runs
only when asked for explicitly, and gives up on a table it cannot lock within the lock timeout."""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from sma_maintenance.operations.analyze import TableRun, quote_ident, top_level_tables
from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS

FULL_WARNING = ("VACUUM FULL takes an ACCESS EXCLUSIVE lock on each table while it rewrites it: "
                "collectors and the API wait on that table until it is done")

SIZE = """
SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint
FROM pg_partition_tree($1::regclass)
"""


@dataclass(frozen=True, slots=True)
class VacuumReport:
    full: bool
    tables: tuple[TableRun, ...]

    @property
    def reclaimed_bytes(self) -> int:
        return sum(max(t.bytes_before - t.bytes_after, 0) for t in self.tables)

    def summary(self) -> dict[str, object]:
        return {"full": self.full, "tables": len(self.tables), "reclaimed_bytes": self.reclaimed_bytes,
                "seconds": round(sum(t.seconds for t in self.tables), 3)}


async def vacuum(conn: asyncpg.Connection, *, full: bool = False, analyze: bool = True,
                 lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> VacuumReport:
    options = ", ".join(o for o, on in (("FULL", full), ("ANALYZE", analyze)) if on)
    runs = []
    # VACUUM cannot run in a transaction, so the lock timeout is set for the session and reset.
    await conn.execute(f"SET lock_timeout = '{int(lock_timeout_ms)}ms'")
    try:
        for table in await top_level_tables(conn):
            before = await conn.fetchval(SIZE, table)
            started = time.perf_counter()
            await conn.execute(f"VACUUM {f'({options}) ' if options else ''}{quote_ident(table)}")
            runs.append(TableRun(table, time.perf_counter() - started, before, await conn.fetchval(SIZE, table)))
    finally:
        if not conn.is_closed():
            await conn.execute("RESET lock_timeout")
    return VacuumReport(full, tuple(runs))
