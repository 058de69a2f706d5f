"""/api/accounts/{id}/metrics: one metric's series, raw or in hour/day buckets, as JSON or CSV, read
through the cache."""

from __future__ import annotations

from aiohttp import web

from sma_gateway import state
from sma_gateway.csv_output import requested_format
from sma_gateway.hot_path import HotRead
from sma_gateway.openapi import operation
from sma_gateway.pagination import next_link, page_limit
from sma_gateway.responses import CACHE_HEADER_DOC, cached_response
from sma_gateway.schemas import AccountId, MetricBucket, MetricPoint, MetricsQuery
from sma_gateway.series import SeriesRequest, last_page_body, read_series
from sma_gateway.validation import parse_account_id, parse_query


@operation(
    "One metric's series: raw points, or hour or day buckets",
    description="`from` defaults to a week before `to`, `to` to now; the range is `[from, to)`. A long series "
    "comes in pages: the `Link` header names the next one.",
    path={"id": AccountId}, query=MetricsQuery, response=list[MetricBucket | MetricPoint], paginated=True,
    csv=True, headers=CACHE_HEADER_DOC,
)
async def read_metric_series(request: web.Request) -> web.Response:
    account_id = parse_account_id(request)
    query = parse_query(request, MetricsQuery)
    output = requested_format(request)
    maximum = request.app[state.SETTINGS].metrics_points_limit_max
    series = SeriesRequest(
        account_id, query.metric, query.resolution, query.start, query.end,
        page_limit(query.limit, maximum, maximum), output,
    )
    page = await read_series(
        request.app[state.CACHE], request.app[state.DATABASE].pool, series, request.app[state.CLOCK].now()
    )
    request.app[state.HOT_READS].remember(request, HotRead(account_id, page.variant, output, last_page_body))
    link = None if page.next_start is None else next_link(request.rel_url, **{"from": page.next_start.isoformat()})
    return cached_response(page.body, output, page.outcome, page.etag, {"Link": link} if link else None)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/accounts/{id}/metrics", read_metric_series)]
