"""Incremental hourly and daily rollups (min, max, first, last, count per bucket).

Each kind keeps a watermark in `maintenance_state`: every bucket before it has been rolled up.
A run recomputes every bucket from one bucket before the watermark (points that arrived late)
through the current, still open bucket, a bounded chunk per transaction, and moves the
watermark after each chunk, so a run cut short resumes where it stopped. Buckets are upserted
and rewritten only when their figures changed: re-running changes nothing. Hourly buckets come
from the points (both layouts, through `metric_points_between`: a compacted day recomputed for a
late point keeps all its points); daily buckets from the hourly ones (the same figures, a fraction
of the rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from sma_maintenance.operations.partitions import list_partitions

DEFAULT_CHUNK_HOURS = 6
DAILY_CHUNK_DAYS = 7
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

_UPSERT = """
INSERT INTO {target} AS r (account_id, metric, bucket, min, max, first, last, count)
{select}
ON CONFLICT (account_id, metric, bucket) DO UPDATE
SET min = EXCLUDED.min, max = EXCLUDED.max, first = EXCLUDED.first, last = EXCLUDED.last, count = EXCLUDED.count
WHERE (r.min, r.max, r.first, r.last, r.count)
      IS DISTINCT FROM (EXCLUDED.min, EXCLUDED.max, EXCLUDED.first, EXCLUDED.last, EXCLUDED.count)
"""

HOURLY_UPSERT = _UPSERT.format(target="metric_rollups_hourly", select="""
SELECT account_id, metric, date_trunc('hour', ts, 'UTC'), min(value), max(value),
       (array_agg(value ORDER BY ts))[1], (array_agg(value ORDER BY ts DESC))[1], count(*)
FROM metric_points_between($1, $2)
GROUP BY 1, 2, 3""")

DAILY_UPSERT = _UPSERT.format(target="metric_rollups_daily", select="""
SELECT account_id, metric, date_trunc('day', bucket, 'UTC'), min(min), max(max),
       (array_agg(first ORDER BY bucket))[1], (array_agg(last ORDER BY bucket DESC))[1], sum(count)
FROM metric_rollups_hourly WHERE bucket >= $1 AND bucket < $2
GROUP BY 1, 2, 3""")

READ_WATERMARK = "SELECT value::timestamptz FROM maintenance_state WHERE name = $1"
WRITE_WATERMARK = """
INSERT INTO maintenance_state (name, value, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
"""


@dataclass(frozen=True, slots=True)
class RollupRun:
    kind: str  # hourly | daily
    start: datetime | None  # first bucket recomputed (None: nothing to do)
    end: datetime | None  # end of the last bucket recomputed
    chunks: int
    buckets_written: int  # inserted or changed; 0 on a re-run over the same points
    watermark: datetime | None


@dataclass(frozen=True, slots=True)
class RollupReport:
    runs: tuple[RollupRun, ...]

    def summary(self) -> dict[str, object]:
        return {r.kind: {"written": r.buckets_written, "chunks": r.chunks, "watermark": str(r.watermark)}
                for r in self.runs}


def floor_to(ts: datetime, step: timedelta) -> datetime:
    """The start of `ts`'s bucket (UTC); hours and days both divide the epoch evenly."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((ts.astimezone(UTC) - epoch) // step) * step


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out, at = [], start
    while at < end:
        out.append((at, min(at + size, end)))
        at += size
    return out


async def _first_point_day(conn: asyncpg.Connection) -> datetime | None:
    # The oldest partition's day, not min(ts): no index leads with ts, partitions are cheap to list.
    parts = await list_partitions(conn, "metric_points")
    return datetime(parts[0].day.year, parts[0].day.month, parts[0].day.day, tzinfo=UTC) if parts else None


async def _roll(conn: asyncpg.Connection, kind: str, upsert: str, step: timedelta, origin: datetime | None,
                until: datetime, chunk: timedelta, now: datetime) -> RollupRun:
    name = f"rollups_{kind}"
    watermark = await conn.fetchval(READ_WATERMARK, name)
    start = watermark - step if watermark is not None else origin
    if start is None or start >= until:
        return RollupRun(kind, None, None, 0, 0, watermark)
    start, written, done = floor_to(start, step), 0, 0
    for low, high in chunks(start, until, chunk):
        async with conn.transaction():
            status = await conn.execute(upsert, low, high)
            written += int(status.split()[-1])
            # The open bucket (the last one, reaching past now) never falls behind the watermark.
            reached = min(high, floor_to(now, step))
            watermark = max(watermark, reached) if watermark else reached
            await conn.execute(WRITE_WATERMARK, name, watermark.isoformat())
        done += 1
    return RollupRun(kind, start, until, done, written, watermark)


async def refresh_rollups(conn: asyncpg.Connection, *, chunk_hours: int = DEFAULT_CHUNK_HOURS,
                          now: datetime | None = None) -> RollupReport:
    now = now or datetime.now(UTC)
    origin = await _first_point_day(conn)
    hourly = await _roll(conn, "hourly", HOURLY_UPSERT, HOUR, origin, floor_to(now, HOUR) + HOUR,
                         timedelta(hours=chunk_hours), now)
    if hourly.watermark is None:
        return RollupReport((hourly, RollupRun("daily", None, None, 0, 0, None)))
    # Daily buckets only as far as the hourly ones are done.
    daily = await _roll(conn, "daily", DAILY_UPSERT, DAY, origin, floor_to(hourly.watermark, DAY) + DAY,
                        timedelta(days=DAILY_CHUNK_DAYS), now)
    return RollupReport((hourly, daily))
