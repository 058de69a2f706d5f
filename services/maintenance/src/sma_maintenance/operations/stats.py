"""Database statistics: size and estimated rows per table and partition, index size and use,
cache hit ratio, dead tuples, and each partitioned table's oldest and newest partition."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from sma_maintenance.operations.partitions import PARTITIONED_TABLES, TablePartitions, partition_range

# Every ordinary or partitioned table of the schema, with its parent when it is a partition.
TABLES = """
SELECT c.relname AS name, p.relname AS parent, c.relkind = 'p' AS partitioned,
       pg_total_relation_size(c.oid) AS total_bytes, pg_indexes_size(c.oid) AS index_bytes,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       coalesce(s.n_live_tup, 0) AS live_tuples, coalesce(s.n_dead_tup, 0) AS dead_tuples
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""

# Indexes of partitions are counted under their parent index (one row per logical index).
INDEXES = """
SELECT coalesce(pi.relname, ic.relname) AS name, coalesce(pt.relname, s.relname) AS table_name,
       sum(pg_relation_size(s.indexrelid))::bigint AS bytes, sum(s.idx_scan)::bigint AS scans
FROM pg_stat_user_indexes s
JOIN pg_class ic ON ic.oid = s.indexrelid
LEFT JOIN pg_inherits ii ON ii.inhrelid = s.indexrelid
LEFT JOIN pg_class pi ON pi.oid = ii.inhparent
LEFT JOIN pg_inherits ti ON ti.inhrelid = s.relid
LEFT JOIN pg_class pt ON pt.oid = ti.inhparent
WHERE s.schemaname = current_schema()
GROUP BY 1, 2
ORDER BY 3 DESC, 1
"""

CACHE_HIT_RATIO = """
SELECT sum(heap_blks_hit)::float8 / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0)
FROM pg_statio_user_tables
"""


@dataclass(frozen=True, slots=True)
class TableStats:
    name: str
    parent: str | None
    partitioned: bool
    total_bytes: int
    index_bytes: int
    estimated_rows: int
    dead_tuples: int
    partitions: int = 0

    @property
    def dead_ratio(self) -> float:
        live_and_dead = self.estimated_rows + self.dead_tuples
        return self.dead_tuples / live_and_dead if live_and_dead else 0.0


@dataclass(frozen=True, slots=True)
class IndexStats:
    name: str
    table: str
    bytes: int
    scans: int


@dataclass(frozen=True, slots=True)
class StatsReport:
    tables: tuple[TableStats, ...]  # top-level tables, partitioned ones with their partitions summed
    partitions: tuple[TableStats, ...]
    indexes: tuple[IndexStats, ...]
    cache_hit_ratio: float | None
    partition_ranges: tuple[TablePartitions, ...]

    @property
    def total_bytes(self) -> int:
        return sum(t.total_bytes for t in self.tables)

    def summary(self) -> dict[str, object]:
        return {
            "total_bytes": self.total_bytes, "cache_hit_ratio": self.cache_hit_ratio,
            "tables": {t.name: {"bytes": t.total_bytes, "rows": t.estimated_rows, "dead": t.dead_tuples}
                       for t in self.tables},
            "partitions": {r.table: {"count": r.partitions, "oldest": str(r.oldest), "newest": str(r.newest)}
                           for r in self.partition_ranges},
        }


def _summed(parent: TableStats, parts: list[TableStats]) -> TableStats:
    return TableStats(
        parent.name, None, True,
        parent.total_bytes + sum(p.total_bytes for p in parts), parent.index_bytes + sum(p.index_bytes for p in parts),
        sum(p.estimated_rows for p in parts), sum(p.dead_tuples for p in parts), len(parts),
    )


async def collect_stats(conn: asyncpg.Connection) -> StatsReport:
    rows = [TableStats(r["name"], r["parent"], r["partitioned"], r["total_bytes"], r["index_bytes"],
                       r["estimated_rows"], r["dead_tuples"]) for r in await conn.fetch(TABLES)]
    partitions = [t for t in rows if t.parent is not None]
    tables = [_summed(t, [p for p in partitions if p.parent == t.name]) if t.partitioned else t
              for t in rows if t.parent is None]
    indexes = [IndexStats(r["name"], r["table_name"], r["bytes"], r["scans"]) for r in await conn.fetch(INDEXES)]
    ranges = [await partition_range(conn, table) for table in PARTITIONED_TABLES]
    return StatsReport(
        tuple(sorted(tables, key=lambda t: -t.total_bytes)), tuple(partitions), tuple(indexes),
        await conn.fetchval(CACHE_HIT_RATIO), tuple(ranges),
    )
