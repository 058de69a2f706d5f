"""/api/accounts/{id}/summary: per metric, the latest value and the gains over 1, 7 and 30 days,
read through the cache (a new point bumps the account's version, so it is never stale for long)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from aiohttp import web

from sma_common.platforms import is_rounded
from sma_gateway import state
from sma_gateway.csv_output import requested_format
from sma_gateway.hot_path import HotRead, whole_value
from sma_gateway.openapi import operation
from sma_gateway.problem import not_found
from sma_gateway.repositories import analytics
from sma_gateway.responses import CACHE_HEADER_DOC, cached_response, model_response_bytes, render_rows
from sma_gateway.schemas import AccountId, AccountSummary, MetricSummary, OutputFormat
from sma_gateway.validation import parse_account_id

# Names the rendered shape (see series._SHAPE for why).
_SHAPE = "summary.v1"


def growth_rate(gain: float | None, old: float | None) -> float | None:
    """`gain / old`, or None when there is no old value or it is 0 (no rate from nothing)."""
    if gain is None or old is None or old == 0:
        return None
    return gain / old


def metric_summary(values: analytics.MetricValues, rounded: bool) -> MetricSummary:
    fields: dict[str, float | None] = {}
    for days, old in values.since.items():
        gain = None if old is None else values.value - old
        fields[f"gain_{days}d"] = gain
        fields[f"growth_rate_{days}d"] = growth_rate(gain, old)
    return MetricSummary.model_validate(
        {"metric": values.metric, "ts": values.ts, "value": values.value, "rounded": rounded, **fields}
    )


async def load_summary(pool: asyncpg.Pool, account_id: int, now: datetime) -> AccountSummary:
    account = await analytics.account_name(pool, account_id)
    if account is None:
        raise not_found(f"No account with id {account_id}.")
    values = await analytics.summary_values(pool, account_id, now)
    return AccountSummary(
        account_id=account_id, platform=account.platform, handle=account.handle,
        display_name=account.display_name, as_of=now,
        metrics=[metric_summary(v, is_rounded(account.platform, v.metric)) for v in values],
    )


def render_summary(summary: AccountSummary, output: OutputFormat) -> bytes:
    """JSON: the whole summary; CSV: one row per metric."""
    if output == "csv":
        return render_rows(MetricSummary, summary.metrics, "csv")
    return model_response_bytes(summary)


@operation(
    "An account's summary: per metric, the latest value and its gains over 1, 7 and 30 days",
    description="As CSV: one row per metric.", path={"id": AccountId}, response=AccountSummary, csv=True,
    headers=CACHE_HEADER_DOC,
)
async def read_summary(request: web.Request) -> web.Response:
    account_id = parse_account_id(request)
    output = requested_format(request)
    pool = request.app[state.DATABASE].pool
    now = request.app[state.CLOCK].now()

    async def load() -> bytes:
        return render_summary(await load_summary(pool, account_id, now), output)

    variant = f"{_SHAPE}|{output}"
    read = await request.app[state.CACHE].read(account_id, variant, load)
    request.app[state.HOT_READS].remember(request, HotRead(account_id, variant, output, whole_value))
    return cached_response(read.value, output, read.outcome, read.etag)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/accounts/{id}/summary", read_summary)]
