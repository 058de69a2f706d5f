"""Metric series reads: the time range a query means, the cache variant that names it, and one page
of raw points or hour/day buckets loaded from Postgres through the read-through cache.

Hour and day buckets are whole: a query returns every bucket that overlaps `[from, to)`, served
from the rollup tables where maintenance has rolled them up and aggregated from the points after
that (`repositories.analytics.rolled_buckets`); both give the same figures.

A cached value is the rendered page (JSON or CSV) prefixed by the next page's start (empty when
none) and a newline, so a hit is served without decoding or re-encoding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from sma_common.platforms import METRIC_IDS, Platform, is_rounded
from sma_gateway.cache import CacheOutcome, ReadThroughCache
from sma_gateway.pagination import split_page
from sma_gateway.problem import FieldError, invalid, not_found
from sma_gateway.repositories import accounts, analytics
from sma_gateway.repositories import metrics as metric_rows
from sma_gateway.responses import render_rows
from sma_gateway.schemas import MetricBucket, MetricPoint, OutputFormat, Resolution

DEFAULT_RANGE = timedelta(days=7)
# The next page starts one step after the last row returned (timestamptz has microseconds).
_STEP: dict[Resolution, timedelta] = {
    "raw": timedelta(microseconds=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    """A series query as the client wrote it: `start`/`end` are None when left to the defaults."""

    account_id: int
    metric: str
    resolution: Resolution
    start: datetime | None
    end: datetime | None
    limit: int
    output: OutputFormat = "json"


@dataclass(frozen=True, slots=True)
class SeriesPage:
    body: bytes
    next_start: datetime | None
    outcome: CacheOutcome
    etag: str  # of the cached value: a hit needs no hashing of the body
    variant: str  # names the cache entry (see `cache_variant`)


def resolve_range(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """`[start, end)`: `end` defaults to now, `start` to a week before `end`."""
    end = end or now
    try:
        start = start or end - DEFAULT_RANGE
    except OverflowError:
        raise invalid([FieldError("query", "to", "too early to have a week before it")]) from None
    if start >= end:
        raise invalid([FieldError("query", "from", "'from' must be before 'to' (which defaults to now)")])
    return start, end


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def align(start: datetime, end: datetime, resolution: Resolution) -> tuple[datetime, datetime]:
    """`[start, end)` widened to whole hour/day buckets (UTC); raw ranges stay as they are."""
    if resolution == "raw":
        return start, end
    step = _STEP[resolution]
    floor = _EPOCH + ((start - _EPOCH) // step) * step
    ceiling = _EPOCH + -((_EPOCH - end) // step) * step
    return floor, ceiling


# Names the rendered shape: change it when the body changes (v2 added `rounded`, v3 whole buckets
# and CSV), so a gateway never serves an entry an older gateway cached in the old shape during a
# rolling deploy.
_SHAPE = "series.v3"


def cache_variant(request: SeriesRequest) -> str:
    """Names the query, not the clock: a defaulted range is one entry for the TTL, not one per call."""
    bounds = [moment.isoformat() if moment else "" for moment in (request.start, request.end)]
    return "|".join([_SHAPE, request.metric, request.resolution, str(request.limit), request.output, *bounds])


def pack(next_start: datetime | None, body: bytes) -> bytes:
    return (next_start.isoformat() if next_start else "").encode() + b"\n" + body


def unpack(value: bytes) -> tuple[datetime | None, bytes]:
    head, _, body = value.partition(b"\n")
    return (datetime.fromisoformat(head.decode()) if head else None), body


def last_page_body(value: bytes) -> bytes | None:
    """The body of a page with no next one (no `Link` to write), else None."""
    return value[1:] if value.startswith(b"\n") else None


async def _load_page(
    pool: asyncpg.Pool, request: SeriesRequest, platform: Platform, start: datetime, end: datetime
) -> tuple[list[MetricPoint], datetime | None]:
    metric_id = METRIC_IDS[request.metric]
    fetch = request.limit + 1
    rounded = is_rounded(platform, request.metric)
    rows: list[MetricPoint]
    if request.resolution == "raw":
        rows = await metric_rows.raw_points(
            pool, request.account_id, metric_id, start, end, fetch, rounded=rounded
        )
    else:
        rows = list(await analytics.rolled_buckets(
            pool, request.account_id, metric_id, request.resolution, start, end, fetch, rounded=rounded
        ))
    page, last = split_page(rows, request.limit)
    return page, (last.ts + _STEP[request.resolution] if last else None)


async def read_series(
    cache: ReadThroughCache, pool: asyncpg.Pool, request: SeriesRequest, now: datetime
) -> SeriesPage:
    start, end = align(*resolve_range(request.start, request.end, now), request.resolution)
    row_type = MetricPoint if request.resolution == "raw" else MetricBucket

    async def load() -> bytes:
        platform = await accounts.account_platform(pool, request.account_id)
        if platform is None:
            raise not_found(f"No account with id {request.account_id}.")
        page, next_start = await _load_page(pool, request, platform, start, end)
        return pack(next_start, render_rows(row_type, page, request.output))

    variant = cache_variant(request)
    read = await cache.read(request.account_id, variant, load)
    next_start, body = unpack(read.value)
    return SeriesPage(body, next_start, read.outcome, read.etag, variant)
