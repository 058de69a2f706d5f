"""SQL for the analytics reads: hour/day buckets from the rollup tables joined with the buckets the
rollups have not covered yet, and values "at or before" a moment (summaries, the leaderboard).

Rollups (`metric_rollups_hourly`/`_daily`) are kept by the maintenance service; its watermark in
`maintenance_state` (`rollups_hourly`, `rollups_daily`) says every bucket before it was rolled up.
A series takes buckets before the watermark from the rollups and aggregates the rest (the open
bucket and any not yet rolled) from `metric_points`, in one statement, so both halves see the same
watermark. Without a watermark (maintenance never ran) everything comes from the points.

Every lookup of one account's value is an index probe on (account_id, metric, ts), and on
(account_id, metric, day) of the compacted days, never a scan. The series' raw half reads only
`metric_points`: compaction folds only days the rollups have covered, which it never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sma_common.platforms import Platform
from sma_gateway.repositories.metrics import BucketUnit
from sma_gateway.schemas import MetricBucket

_TABLES: dict[BucketUnit, tuple[str, str]] = {
    "hour": ("metric_rollups_hourly", "rollups_hourly"),
    "day": ("metric_rollups_daily", "rollups_daily"),
}

# $1 account, $2 metric, $3 first bucket (aligned), $4 end (aligned, exclusive), $5 limit,
# $6 watermark name; the unit and table come from _TABLES, never from the request.
_BUCKETS = """
WITH mark AS (
    SELECT coalesce((SELECT value::timestamptz FROM maintenance_state WHERE name = $6),
                    '-infinity'::timestamptz) AS at
)
SELECT r.bucket, r.min, r.max, r.first, r.last, r.count::bigint AS count
FROM {table} r, mark
WHERE r.account_id = $1 AND r.metric = $2 AND r.bucket >= $3 AND r.bucket < least($4, mark.at)
UNION ALL
SELECT date_trunc('{unit}', p.ts, 'UTC') AS bucket, min(p.value), max(p.value),
       (array_agg(p.value ORDER BY p.ts))[1], (array_agg(p.value ORDER BY p.ts DESC))[1], count(*)
FROM metric_points p, mark
WHERE p.account_id = $1 AND p.metric = $2 AND p.ts >= greatest($3, mark.at) AND p.ts < $4
GROUP BY 1
ORDER BY 1
LIMIT $5
"""
BUCKET_SQL: dict[BucketUnit, str] = {
    unit: _BUCKETS.format(table=table, unit=unit) for unit, (table, _) in _TABLES.items()
}


async def rolled_buckets(
    pool: asyncpg.Pool, account_id: int, metric_id: int, unit: BucketUnit, start: datetime, end: datetime,
    limit: int, *, rounded: bool,
) -> list[MetricBucket]:
    """Buckets starting in `[start, end)`, both aligned to `unit`, each whole."""
    rows = await pool.fetch(BUCKET_SQL[unit], account_id, metric_id, start, end, limit, _TABLES[unit][1])
    return [
        MetricBucket(
            ts=r["bucket"], value=r["last"], min=r["min"], max=r["max"], first=r["first"], last=r["last"],
            count=r["count"], rounded=rounded,
        )
        for r in rows
    ]


# The one account's value at or before a moment, from either layout of the points: a backwards
# probe of metric_points' primary key (account_id, metric, ts), the partitions after the moment
# pruned, and one of metric_points_compact's (account_id, metric, day) for the latest compacted day
# holding a point that old (migration 0004; `ts` is sorted, so `ts[1]` is its first point). The
# later point wins; on a tie (a late raw duplicate of a compacted point) the compacted copy, as in
# metric_points_between.
_AT_OR_BEFORE = """(
    SELECT ts, value FROM (
        (SELECT ts, value, 1 AS layout FROM metric_points
         WHERE account_id = {account} AND metric = {metric} AND ts <= {moment}
         ORDER BY ts DESC LIMIT 1)
        UNION ALL
        (SELECT u.ts, u.value, 0 FROM (
            SELECT c.ts, c.value FROM metric_points_compact c
            WHERE c.account_id = {account} AND c.metric = {metric}
              AND c.day <= ({moment} AT TIME ZONE 'UTC')::date AND c.ts[1] <= {moment}
            ORDER BY c.day DESC LIMIT 1
         ) c CROSS JOIN LATERAL unnest(c.ts, c.value) AS u(ts, value)
         WHERE u.ts <= {moment}
         ORDER BY u.ts DESC LIMIT 1)
    ) either
    ORDER BY ts DESC, layout LIMIT 1
)"""


def at_or_before(account: str, metric: str, moment: str) -> str:
    return _AT_OR_BEFORE.format(account=account, metric=metric, moment=moment)


# $1 account, $2 now, $3..$5 the moments 1, 7 and 30 days before it.
SUMMARY_SQL = f"""
SELECT m.name, l.ts, l.value, d1.value AS since_1d, d7.value AS since_7d, d30.value AS since_30d
FROM metrics m
CROSS JOIN LATERAL {at_or_before("$1", "m.id", "$2")} l
LEFT JOIN LATERAL {at_or_before("$1", "m.id", "$3")} d1 ON true
LEFT JOIN LATERAL {at_or_before("$1", "m.id", "$4")} d7 ON true
LEFT JOIN LATERAL {at_or_before("$1", "m.id", "$5")} d30 ON true
ORDER BY m.id
"""


@dataclass(frozen=True, slots=True)
class MetricValues:
    """A metric's latest value and its values at or before 1, 7 and 30 days before `now`."""

    metric: str
    ts: datetime
    value: float
    since: dict[int, float | None]


SUMMARY_DAYS = (1, 7, 30)


async def summary_values(pool: asyncpg.Pool, account_id: int, now: datetime) -> list[MetricValues]:
    moments = [now - timedelta(days=days) for days in SUMMARY_DAYS]
    rows = await pool.fetch(SUMMARY_SQL, account_id, now, *moments)
    return [
        MetricValues(r["name"], r["ts"], r["value"], {days: r[f"since_{days}d"] for days in SUMMARY_DAYS})
        for r in rows
    ]


# $1 metric, $2 platform or null, $3 now, $4 the period's start, $5 limit. Per tracked account two
# backwards index probes on (account_id, metric, ts): no scan of the points, whatever their number.
# Accounts without a value as old as the period's start have no gain yet and are left out.
LEADERBOARD_SQL = f"""
SELECT a.id AS account_id, a.platform, a.handle, a.display_name,
       s.ts AS start_ts, s.value AS start_value, e.ts AS end_ts, e.value AS end_value,
       e.value - s.value AS gain
FROM accounts a
CROSS JOIN LATERAL {at_or_before("a.id", "$1", "$3")} e
CROSS JOIN LATERAL {at_or_before("a.id", "$1", "$4")} s
WHERE EXISTS (SELECT 1 FROM monitoring_jobs j WHERE j.account_id = a.id)
  AND ($2::text IS NULL OR a.platform = $2)
ORDER BY gain DESC, a.id
LIMIT $5
"""


@dataclass(frozen=True, slots=True)
class Gainer:
    account_id: int
    platform: Platform
    handle: str
    display_name: str | None
    start_ts: datetime
    start_value: float
    end_ts: datetime
    end_value: float
    gain: float


async def top_gainers(
    pool: asyncpg.Pool, metric_id: int, platform: Platform | None, now: datetime, since: datetime, limit: int
) -> list[Gainer]:
    rows = await pool.fetch(LEADERBOARD_SQL, metric_id, platform, now, since, limit)
    return [Gainer(**{**dict(r), "platform": Platform(r["platform"])}) for r in rows]


@dataclass(frozen=True, slots=True)
class AccountName:
    platform: Platform
    handle: str
    display_name: str | None


async def account_name(pool: asyncpg.Pool, account_id: int) -> AccountName | None:
    row = await pool.fetchrow("SELECT platform, handle, display_name FROM accounts WHERE id = $1", account_id)
    return None if row is None else AccountName(Platform(row["platform"]), row["handle"], row["display_name"])
