"""/api/jobs handlers: list, create (resolving the account on its platform), read, change, delete,
pause, resume and run-now, and the bulk change, pause and resume of every job a filter matches.
Each parses, calls the repository, and renders."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web
from pydantic import TypeAdapter

from sma_common.platforms import LIVE_PLATFORMS
from sma_gateway import state
from sma_gateway.adapters import resolve_account
from sma_gateway.openapi import operation
from sma_gateway.pagination import decode_cursor, encode_cursor, next_link, page_limit, split_page
from sma_gateway.problem import FieldError, ProblemError, invalid, not_found
from sma_gateway.repositories import jobs
from sma_gateway.responses import list_response, model_response
from sma_gateway.schemas import (
    BulkJobResult,
    JobBulkQuery,
    JobCreate,
    JobListQuery,
    JobOut,
    JobUpdate,
    UtcDatetime,
)
from sma_gateway.validation import parse_body, parse_job_id, parse_query

_CURSOR = TypeAdapter(tuple[UtcDatetime, UUID])


def _found(job: JobOut | None, job_id: UUID) -> JobOut:
    if job is None:
        raise not_found(f"No job with id '{job_id}'.")
    return job


@operation("List monitoring jobs", query=JobListQuery, response=list[JobOut], paginated=True, csv=True)
async def list_jobs(request: web.Request) -> web.Response:
    query = parse_query(request, JobListQuery)
    settings = request.app[state.SETTINGS]
    limit = page_limit(query.limit, settings.page_limit_default, settings.page_limit_max)
    after = decode_cursor(query.cursor, _CURSOR) if query.cursor else None
    where = jobs.JobFilter(query.platform, query.status, query.account_id)
    rows = await jobs.list_jobs(request.app[state.DATABASE].pool, where, after, limit + 1)
    page, last = split_page(rows, limit)
    if last is None:
        return list_response(request, JobOut, page)
    cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return list_response(request, JobOut, page, next_link(request.rel_url, cursor=cursor))


@operation(
    "Track an account: create its monitoring job",
    description="`account` is a handle, profile URL or platform id (`twitch.tv/name`, `@user@instance` on "
    "Mastodon, `youtube.com/@handle`), resolved to the platform's id through its API (an unknown account is "
    "a 422). Idempotent per account: tracking it again answers 200 with the existing job.",
    body=JobCreate, response=JobOut, status=201, also=(200,), errors=(502, 503),
    headers={"Location": "the new job's path"},
)
async def create_job(request: web.Request) -> web.Response:
    body = await parse_body(request, JobCreate, request.app[state.SETTINGS].max_request_body_bytes)
    account = await resolve_account(request.app[state.ADAPTERS], body.platform, body.account)
    job, created = await jobs.create_job(request.app[state.DATABASE].pool, account, body.interval_minutes,
                                         body.live_interval_minutes)
    response = model_response(job, 201 if created else 200)
    if created:
        response.headers["Location"] = f"/api/jobs/{job.id}"
    return response


@operation("One job", path={"id": UUID}, response=JobOut)
async def get_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    return model_response(_found(await jobs.get_job(request.app[state.DATABASE].pool, job_id), job_id))


@operation("Change a job's interval, status or live interval", path={"id": UUID}, body=JobUpdate,
           response=JobOut)
async def update_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    body = await parse_body(request, JobUpdate, request.app[state.SETTINGS].max_request_body_bytes)
    pool = request.app[state.DATABASE].pool
    live = jobs.LiveInterval(body.live_interval_minutes) if body.sets_live_interval else None
    if live is not None and live.minutes is not None:
        current = _found(await jobs.get_job(pool, job_id), job_id)
        if current.platform not in LIVE_PLATFORMS:
            raise _live_refused(f"live_interval_minutes applies to {', '.join(sorted(LIVE_PLATFORMS))} only")
    try:
        job = await jobs.update_job(pool, job_id, body.interval_minutes, body.status, live)
    except jobs.LiveIntervalRefused as exc:
        raise _live_refused(str(exc)) from None
    return model_response(_found(job, job_id))


def _live_refused(detail: str) -> ProblemError:
    return invalid([FieldError("body", "live_interval_minutes", detail)])


def _bulk_filter(request: web.Request) -> jobs.JobFilter:
    query = parse_query(request, JobBulkQuery)
    return jobs.JobFilter(query.platform, query.status, query.account_id)


def _bulk_result(count: jobs.BulkCount) -> web.Response:
    return model_response(BulkJobResult(matched=count.matched, changed=count.changed))


@operation("Change every job a filter matches", query=JobBulkQuery, body=JobUpdate, response=BulkJobResult)
async def update_jobs(request: web.Request) -> web.Response:
    """PATCH /api/jobs?platform=…: the single-job PATCH applied to every matching job at once."""
    where = _bulk_filter(request)
    body = await parse_body(request, JobUpdate, request.app[state.SETTINGS].max_request_body_bytes)
    live = jobs.LiveInterval(body.live_interval_minutes) if body.sets_live_interval else None
    if live is not None and live.minutes is not None and where.platform not in LIVE_PLATFORMS:
        # Checked on the filter, not per job: a bulk change never half-applies to other platforms.
        raise _live_refused(
            f"live_interval_minutes applies to {', '.join(sorted(LIVE_PLATFORMS))} only; "
            "filter on such a platform"
        )
    try:
        count = await jobs.update_jobs(request.app[state.DATABASE].pool, where, body.interval_minutes,
                                       body.status, live)
    except jobs.LiveIntervalRefused as exc:
        raise _live_refused(str(exc)) from None
    return _bulk_result(count)


@operation("Pause every job a filter matches", query=JobBulkQuery, response=BulkJobResult)
async def pause_jobs(request: web.Request) -> web.Response:
    return _bulk_result(await jobs.pause_jobs(request.app[state.DATABASE].pool, _bulk_filter(request)))


@operation("Resume every job a filter matches", query=JobBulkQuery, response=BulkJobResult)
async def resume_jobs(request: web.Request) -> web.Response:
    return _bulk_result(await jobs.resume_jobs(request.app[state.DATABASE].pool, _bulk_filter(request)))


@operation("Stop tracking: delete a job (its account and points stay)", path={"id": UUID}, status=204)
async def delete_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    if not await jobs.delete_job(request.app[state.DATABASE].pool, job_id):
        raise not_found(f"No job with id '{job_id}'.")
    return web.Response(status=204)


@operation("Pause a job", path={"id": UUID}, response=JobOut)
async def pause_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    return model_response(_found(await jobs.pause_job(request.app[state.DATABASE].pool, job_id), job_id))


@operation("Resume a job", path={"id": UUID}, response=JobOut)
async def resume_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    return model_response(_found(await jobs.resume_job(request.app[state.DATABASE].pool, job_id), job_id))


@operation("Run a job now (at the scheduler's next tick)", path={"id": UUID}, response=JobOut,
           errors=(409,))
async def run_job(request: web.Request) -> web.Response:
    job_id = parse_job_id(request)
    outcome, job = await jobs.request_run(request.app[state.DATABASE].pool, job_id)
    if outcome is jobs.RunRequest.PAUSED:
        raise ProblemError(409, f"Job '{job_id}' is paused; resume it to run it.", kind="job-paused")
    return model_response(_found(job, job_id))


# Hex digits and dashes only: `/api/jobs/pause` and `/api/jobs/resume` must never read as a job
# id, or a PUT there would answer 404 (no such job) instead of 405 (method not allowed).
_ONE_JOB = "/api/jobs/{id:[0-9A-Fa-f-]+}"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/jobs", list_jobs),
        web.post("/api/jobs", create_job),
        # Bulk routes before the `{id}` ones, so `/api/jobs/pause` never reads as a job id.
        web.patch("/api/jobs", update_jobs),
        web.post("/api/jobs/pause", pause_jobs),
        web.post("/api/jobs/resume", resume_jobs),
        web.get(_ONE_JOB, get_job),
        web.put(_ONE_JOB, update_job),
        web.patch(_ONE_JOB, update_job),
        web.delete(_ONE_JOB, delete_job),
        web.post("/api/jobs/{id}/pause", pause_job),
        web.post("/api/jobs/{id}/resume", resume_job),
        web.post("/api/jobs/{id}/run", run_job),
    ]
