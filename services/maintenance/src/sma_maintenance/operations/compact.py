"""Compaction of closed days of metric points into `metric_points_compact` (migration 0004): one
row per account, metric and day holding the day's timestamps and values as arrays, about a sixth
of the space of a row per point with its index entry.

A day is closed when it ended at least `min_age_days` ago and the rollups have covered it (the
daily watermark is past its end), so the gateway's series, which aggregate only what comes after
the watermark from the points, never read a compacted day. Readers of points read both layouts
through `metric_points_between` anyway, the rollups included.

Each daily partition is compacted in one transaction: its rows are merged into the day's compact
rows (a compacted copy wins over a late raw duplicate), then the partition is truncated. A crash
leaves either the raw rows or the compact ones, never both or neither; the emptied partition stays
attached so a late write for that day still has somewhere to go (the next run folds it in). A
second run finds the partitions empty and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from sma_maintenance.operations.analyze import quote_ident
from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS, limit_lock_wait
from sma_maintenance.operations.partitions import list_partitions
from sma_maintenance.operations.rollups import READ_WATERMARK

DEFAULT_MIN_AGE_DAYS = 1

# $1 the partition's day. DISTINCT ON keeps the first row of each (account, metric, ts) in
# `source` order: the compacted copy (0) before a raw one (1).
MERGE_DAY = """
INSERT INTO metric_points_compact AS c (account_id, metric, day, ts, value)
SELECT account_id, metric, $1::date, array_agg(ts ORDER BY ts), array_agg(value ORDER BY ts)
FROM (
    SELECT DISTINCT ON (account_id, metric, ts) account_id, metric, ts, value
    FROM (
        SELECT k.account_id, k.metric, u.ts, u.value, 0 AS source
        FROM metric_points_compact k CROSS JOIN LATERAL unnest(k.ts, k.value) AS u(ts, value)
        WHERE k.day = $1::date
        UNION ALL
        SELECT account_id, metric, ts, value, 1 FROM {partition}
    ) s
    ORDER BY account_id, metric, ts, source
) d
GROUP BY account_id, metric
ON CONFLICT (account_id, metric, day) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value
WHERE (c.ts, c.value) IS DISTINCT FROM (EXCLUDED.ts, EXCLUDED.value)
"""

# The stored size of a day's compact rows (arrays as stored, compressed or not, plus the row
# header and key); the raw side is the partition's table and index size.
COMPACT_DAY_BYTES = """
SELECT count(*) AS rows, coalesce(sum(cardinality(ts)), 0) AS points,
       coalesce(sum(pg_column_size(c.*)), 0) AS bytes
FROM metric_points_compact c WHERE day = $1
"""


@dataclass(frozen=True, slots=True)
class CompactedDay:
    partition: str
    day: date
    raw_points: int  # rows moved out of the partition (late duplicates included)
    compact_rows: int  # the day's compact rows afterwards
    compact_points: int
    bytes_before: int  # the partition, table plus indexes
    bytes_after: int  # the day's compact rows


@dataclass(frozen=True, slots=True)
class CompactReport:
    closed_before: date  # days ending by this one are old enough
    rolled_up_before: date | None  # days ending by this one are rolled up (None: rollups never ran)
    compacted: tuple[CompactedDay, ...]

    @property
    def bytes_before(self) -> int:
        return sum(d.bytes_before for d in self.compacted)

    @property
    def bytes_after(self) -> int:
        return sum(d.bytes_after for d in self.compacted)

    def summary(self) -> dict[str, object]:
        return {"partitions_compacted": len(self.compacted),
                "points": sum(d.raw_points for d in self.compacted),
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "days": [str(d.day) for d in self.compacted],
                "closed_before": str(self.closed_before), "rolled_up_before": str(self.rolled_up_before)}


async def compact_partition(conn: asyncpg.Connection, partition: str, day: date, *,
                            lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> CompactedDay | None:
    """Fold one daily partition's rows into the day's compact rows and empty it; None when it
    holds no rows (nothing to do)."""
    table = quote_ident(partition)
    async with conn.transaction():
        await limit_lock_wait(conn, lock_timeout_ms)
        # Writes to the day wait from here (none slips in between the merge and the truncate);
        # reads go on during the merge and wait only for the TRUNCATE's exclusive lock at the
        # end. Holding SHARE, no writer holds the partition, so that upgrade cannot deadlock.
        await conn.execute(f"LOCK TABLE {table} IN SHARE MODE")
        raw_points = await conn.fetchval(f"SELECT count(*) FROM {table}")
        if not raw_points:
            return None
        bytes_before = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", partition)
        await conn.execute(MERGE_DAY.format(partition=table), day)
        await conn.execute(f"TRUNCATE {table}")
        after = await conn.fetchrow(COMPACT_DAY_BYTES, day)
    return CompactedDay(partition, day, raw_points, after["rows"], after["points"], bytes_before, after["bytes"])


async def compact(conn: asyncpg.Connection, *, min_age_days: int = DEFAULT_MIN_AGE_DAYS,
                  lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS, now: datetime | None = None) -> CompactReport:
    """Compact every closed daily partition of metric_points that still holds raw rows."""
    now = now or datetime.now(UTC)
    closed_before = now.astimezone(UTC).date() - timedelta(days=min_age_days)
    daily_mark = await conn.fetchval(READ_WATERMARK, "rollups_daily")
    rolled_before = daily_mark.astimezone(UTC).date() if daily_mark is not None else None
    # A day is closed once its end (the next day) is `min_age_days` behind today and rolled up.
    until = min(closed_before, rolled_before) if rolled_before is not None else None
    compacted = []
    for part in await list_partitions(conn, "metric_points"):
        if until is None or part.day + timedelta(days=1) > until:
            break
        done = await compact_partition(conn, part.name, part.day, lock_timeout_ms=lock_timeout_ms)
        if done is not None:
            compacted.append(done)
    return CompactReport(closed_before, rolled_before, tuple(compacted))
