"""/api/jobs/{id}/executions: one job's runs, newest first, filterable by status."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from pydantic import TypeAdapter

from sma_gateway import state
from sma_gateway.openapi import operation
from sma_gateway.pagination import decode_cursor, encode_cursor, next_link, page_limit, split_page
from sma_gateway.problem import not_found
from sma_gateway.repositories import executions, jobs
from sma_gateway.responses import list_response
from sma_gateway.schemas import ExecutionListQuery, ExecutionOut, UtcDatetime
from sma_gateway.validation import parse_job_id, parse_query

_CURSOR = TypeAdapter(tuple[UtcDatetime])


@operation("One job's executions, newest first", path={"id": UUID}, query=ExecutionListQuery,
           response=list[ExecutionOut], paginated=True, csv=True)
async def list_executions(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    query = parse_query(request, ExecutionListQuery)
    settings = request.app[state.SETTINGS]
    limit = page_limit(query.limit, settings.page_limit_default, settings.page_limit_max)
    before = decode_cursor(query.cursor, _CURSOR)[0] if query.cursor else None
    pool = request.app[state.DATABASE].pool
    if not await jobs.job_exists(pool, job_id):
        raise not_found(f"No job with id '{job_id}'.")
    rows = await executions.list_executions(pool, job_id, query.status, before, limit + 1)
    page, last = split_page(rows, limit)
    link = next_link(request.rel_url, cursor=encode_cursor([last.scheduled_for.isoformat()])) if last else None
    return list_response(request, ExecutionOut, page, link)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/jobs/{id}/executions", list_executions)]
