"""SQL for metric series: raw points, or hour/day buckets aggregated on the fly from the points.

Points are read through `metric_points_between(start, stop)` (migration 0004): the raw rows and
the closed days the maintenance `compact` operation moved into arrays, each point once.

`rounded` is not in the table: the caller knows it from the account's platform and the metric.

Ranges are half-open, `[start, end)`; buckets are aligned in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from sma_gateway.schemas import MetricBucket, MetricPoint

BucketUnit = Literal["hour", "day"]


async def raw_points(
    pool: asyncpg.Pool, account_id: int, metric_id: int, start: datetime, end: datetime, limit: int,
    *, rounded: bool,
) -> list[MetricPoint]:
    rows = await pool.fetch(
        """
        SELECT ts, value FROM metric_points_between($3, $4)
        WHERE account_id = $1 AND metric = $2
        ORDER BY ts
        LIMIT $5
        """,
        account_id, metric_id, start, end, limit,
    )
    return [MetricPoint(ts=r["ts"], value=r["value"], rounded=rounded) for r in rows]


async def buckets(
    pool: asyncpg.Pool, account_id: int, metric_id: int, unit: BucketUnit, start: datetime, end: datetime,
    limit: int, *, rounded: bool,
) -> list[MetricBucket]:
    rows = await pool.fetch(
        """
        SELECT date_trunc($3, ts, 'UTC') AS bucket,
               min(value) AS min, max(value) AS max, count(*) AS count,
               (array_agg(value ORDER BY ts))[1] AS first,
               (array_agg(value ORDER BY ts DESC))[1] AS last
        FROM metric_points_between($4, $5)
        WHERE account_id = $1 AND metric = $2
        GROUP BY bucket
        ORDER BY bucket
        LIMIT $6
        """,
        account_id, metric_id, unit, start, end, limit,
    )
    return [
        MetricBucket(
            ts=r["bucket"], value=r["last"], min=r["min"], max=r["max"], first=r["first"], last=r["last"],
            count=r["count"], rounded=rounded,
        )
        for r in rows
    ]
