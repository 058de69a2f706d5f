"""/api/leaderboard: the tracked accounts that gained most in one metric over a day, week or month,
optionally of one platform; as JSON or CSV, cached for the cache's TTL.

The board belongs to no single account, so no account's write invalidates it: it is cached under
`LEADERBOARD_SCOPE`, a scope no account has (ids start at 1) and nothing bumps, so an entry lives
exactly its TTL (`SMA_CACHE_METRICS_TTL_SECONDS`, 30 s by default).
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from sma_common.platforms import METRIC_IDS, is_rounded
from sma_gateway import state
from sma_gateway.csv_output import requested_format
from sma_gateway.hot_path import HotRead, whole_value
from sma_gateway.openapi import operation
from sma_gateway.pagination import page_limit
from sma_gateway.repositories import analytics
from sma_gateway.responses import CACHE_HEADER_DOC, cached_response, render_rows
from sma_gateway.routes.summary import growth_rate
from sma_gateway.schemas import LeaderboardEntry, LeaderboardPeriod, LeaderboardQuery
from sma_gateway.validation import parse_query

LEADERBOARD_SCOPE = 0
LIMIT_DEFAULT, LIMIT_MAX = 10, 100
PERIODS: dict[LeaderboardPeriod, timedelta] = {
    "day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30),
}
_SHAPE = "leaderboard.v1"


def entry(rank: int, gainer: analytics.Gainer, metric: str) -> LeaderboardEntry:
    return LeaderboardEntry(
        rank=rank, account_id=gainer.account_id, platform=gainer.platform, handle=gainer.handle,
        display_name=gainer.display_name, start_ts=gainer.start_ts, start_value=gainer.start_value,
        end_ts=gainer.end_ts, end_value=gainer.end_value, gain=gainer.gain,
        growth_rate=growth_rate(gainer.gain, gainer.start_value),
        rounded=is_rounded(gainer.platform, metric),
    )


@operation(
    "Top gainers in one metric over a day, week or month",
    description=f"`limit` defaults to {LIMIT_DEFAULT} and is at most {LIMIT_MAX}.", tags=["analytics"],
    query=LeaderboardQuery, response=list[LeaderboardEntry], csv=True,
    headers=CACHE_HEADER_DOC,
)
async def read_leaderboard(request: web.Request) -> web.Response:
    query = parse_query(request, LeaderboardQuery)
    output = requested_format(request)
    limit = page_limit(query.limit, LIMIT_DEFAULT, LIMIT_MAX)
    pool = request.app[state.DATABASE].pool
    now = request.app[state.CLOCK].now()

    async def load() -> bytes:
        gainers = await analytics.top_gainers(
            pool, METRIC_IDS[query.metric], query.platform, now, now - PERIODS[query.period], limit
        )
        rows = [entry(rank, g, query.metric) for rank, g in enumerate(gainers, start=1)]
        return render_rows(LeaderboardEntry, rows, output)

    variant = "|".join([_SHAPE, query.metric, query.period, query.platform or "", str(limit), output])
    read = await request.app[state.CACHE].read(LEADERBOARD_SCOPE, variant, load)
    request.app[state.HOT_READS].remember(request, HotRead(LEADERBOARD_SCOPE, variant, output, whole_value))
    return cached_response(read.value, output, read.outcome, read.etag)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/leaderboard", read_leaderboard)]
