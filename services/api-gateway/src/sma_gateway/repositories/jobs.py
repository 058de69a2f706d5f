"""SQL for monitoring jobs: listing, creation with the account upsert, updates and state changes.

Every read joins the job's account, so a job always renders with its handle and external id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

import asyncpg

from sma_common.platforms import Platform
from sma_gateway.schemas import JobOut, JobStatus
from sma_platforms import ResolvedAccount

_COLUMNS = """
    j.id, j.account_id, j.platform, a.handle, a.display_name, a.external_id, j.interval_minutes,
    j.live_interval_minutes, j.is_live, j.status, j.next_run_at, j.last_run_at, j.last_status,
    j.consecutive_failures, j.created_at, j.updated_at
"""
_JOINED = f"SELECT {_COLUMNS} FROM monitoring_jobs j JOIN accounts a ON a.id = j.account_id"


def _updated(assignments: str) -> str:
    """An UPDATE of one job (by $1) that returns the job joined with its account."""
    return f"""
        WITH j AS (UPDATE monitoring_jobs SET {assignments}, updated_at = now() WHERE id = $1 RETURNING *)
        SELECT {_COLUMNS} FROM j JOIN accounts a ON a.id = j.account_id
    """


@dataclass(frozen=True, slots=True)
class JobFilter:
    platform: Platform | None = None
    status: JobStatus | None = None
    account_id: int | None = None


class RunRequest(Enum):
    SCHEDULED = "scheduled"
    PAUSED = "paused"
    MISSING = "missing"


def _job(row: asyncpg.Record) -> JobOut:
    return JobOut.model_validate(dict(row))


async def list_jobs(
    pool: asyncpg.Pool, where: JobFilter, after: tuple[datetime, UUID] | None, limit: int
) -> list[JobOut]:
    """Jobs in (created_at, id) order, after the keyset `after`; fetches `limit` rows."""
    rows = await pool.fetch(
        f"""{_JOINED}
        WHERE ($1::text IS NULL OR j.platform = $1)
          AND ($2::text IS NULL OR j.status = $2)
          AND ($3::bigint IS NULL OR j.account_id = $3)
          AND ($4::timestamptz IS NULL OR (j.created_at, j.id) > ($4, $5::uuid))
        ORDER BY j.created_at, j.id
        LIMIT $6""",
        where.platform, where.status, where.account_id,
        after[0] if after else None, after[1] if after else None, limit,
    )
    return [_job(row) for row in rows]


async def get_job(pool: asyncpg.Pool, job_id: UUID) -> JobOut | None:
    row = await pool.fetchrow(f"{_JOINED} WHERE j.id = $1", job_id)
    return _job(row) if row else None


async def job_exists(pool: asyncpg.Pool, job_id: UUID) -> bool:
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM monitoring_jobs WHERE id = $1)", job_id))


async def create_job(
    pool: asyncpg.Pool, account: ResolvedAccount, interval_minutes: int, live_interval_minutes: int | None = None
) -> tuple[JobOut, bool]:
    """Upsert the account and create its job; (job, created). An existing job is returned as is."""
    async with pool.acquire() as conn, conn.transaction():
        account_id = await conn.fetchval(
            """
            INSERT INTO accounts (platform, external_id, handle, display_name) VALUES ($1, $2, $3, $4)
            ON CONFLICT (platform, external_id) DO UPDATE
               SET handle = EXCLUDED.handle, display_name = EXCLUDED.display_name, updated_at = now()
            RETURNING id
            """,
            account.platform, account.external_id, account.handle, account.display_name,
        )
        created = await conn.fetchval(
            """
            INSERT INTO monitoring_jobs (id, account_id, platform, interval_minutes, live_interval_minutes,
                                         next_run_at)
            SELECT n.id, $1, $2, $3, $4, sma_job_slot(n.id, $3, now()) FROM (SELECT gen_random_uuid() AS id) AS n
            ON CONFLICT (account_id) DO NOTHING
            RETURNING id
            """,
            account_id, account.platform, interval_minutes, live_interval_minutes,
        )
        row = await conn.fetchrow(f"{_JOINED} WHERE j.account_id = $1", account_id)
    return _job(row), created is not None


@dataclass(frozen=True, slots=True)
class LiveInterval:
    """A change of the live interval (adaptive polling): `minutes` None removes it."""

    minutes: int | None


class LiveIntervalRefused(ValueError):
    pass


async def update_job(
    pool: asyncpg.Pool, job_id: UUID, interval_minutes: int | None, status: JobStatus | None,
    live: LiveInterval | None = None,
) -> JobOut | None:
    """Change interval, status and/or live interval. A new interval or a resume puts the next run
    on the job's own slot within its interval (`sma_job_slot`), so changing many jobs at once
    spreads them. Raises `LiveIntervalRefused` for a live interval the job cannot take."""
    try:
        row = await pool.fetchrow(
            _updated("""
                interval_minutes = COALESCE($2, interval_minutes),
                next_run_at = CASE
                    WHEN ($3::text = 'active' AND status = 'paused') OR $2::int IS NOT NULL
                        THEN sma_job_slot(id, COALESCE($2, interval_minutes), now())
                    ELSE next_run_at END,
                status = COALESCE($3, status),
                live_interval_minutes = CASE WHEN $4 THEN $5::int ELSE live_interval_minutes END
            """),
            job_id, interval_minutes, status, live is not None, live.minutes if live else None,
        )
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name == "monitoring_jobs_live_interval_check":
            raise LiveIntervalRefused("live_interval_minutes must be shorter than interval_minutes") from None
        raise
    return _job(row) if row else None


@dataclass(frozen=True, slots=True)
class BulkCount:
    matched: int
    changed: int


async def update_jobs(
    pool: asyncpg.Pool, where: JobFilter, interval_minutes: int | None, status: JobStatus | None,
    live: LiveInterval | None = None,
) -> BulkCount:
    """`update_job` for every job `where` matches, in one statement. Only jobs whose values
    actually differ are written (`changed`), so repeating a call changes nothing; a new interval
    or a resume puts each job on its own slot (`sma_job_slot`), so thousands changed at once
    spread over the interval. Raises `LiveIntervalRefused` if any job cannot take the live
    interval (then none changes)."""
    try:
        row = await pool.fetchrow(
            """
            WITH changed AS (
                UPDATE monitoring_jobs SET
                    interval_minutes = COALESCE($4, interval_minutes),
                    next_run_at = CASE
                        WHEN ($5::text = 'active' AND status = 'paused')
                          OR interval_minutes IS DISTINCT FROM COALESCE($4::int, interval_minutes)
                            THEN sma_job_slot(id, COALESCE($4, interval_minutes), now())
                        ELSE next_run_at END,
                    status = COALESCE($5, status),
                    live_interval_minutes = CASE WHEN $6 THEN $7::int ELSE live_interval_minutes END,
                    updated_at = now()
                WHERE ($1::text IS NULL OR platform = $1)
                  AND ($2::text IS NULL OR status = $2)
                  AND ($3::bigint IS NULL OR account_id = $3)
                  AND (interval_minutes IS DISTINCT FROM COALESCE($4::int, interval_minutes)
                       OR status IS DISTINCT FROM COALESCE($5::text, status)
                       OR ($6 AND live_interval_minutes IS DISTINCT FROM $7::int))
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM monitoring_jobs
                     WHERE ($1::text IS NULL OR platform = $1)
                       AND ($2::text IS NULL OR status = $2)
                       AND ($3::bigint IS NULL OR account_id = $3)) AS matched,
                   (SELECT count(*) FROM changed) AS changed
            """,
            where.platform, where.status, where.account_id, interval_minutes, status,
            live is not None, live.minutes if live else None,
        )
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name == "monitoring_jobs_live_interval_check":
            raise LiveIntervalRefused(
                "live_interval_minutes must be shorter than interval_minutes (of every matched job)"
            ) from None
        raise
    assert row is not None
    return BulkCount(row["matched"], row["changed"])


async def pause_jobs(pool: asyncpg.Pool, where: JobFilter) -> BulkCount:
    return await update_jobs(pool, where, None, "paused")


async def resume_jobs(pool: asyncpg.Pool, where: JobFilter) -> BulkCount:
    return await update_jobs(pool, where, None, "active")


async def pause_job(pool: asyncpg.Pool, job_id: UUID) -> JobOut | None:
    return await update_job(pool, job_id, None, "paused")


async def resume_job(pool: asyncpg.Pool, job_id: UUID) -> JobOut | None:
    return await update_job(pool, job_id, None, "active")


async def request_run(pool: asyncpg.Pool, job_id: UUID) -> tuple[RunRequest, JobOut | None]:
    """Make an active job due now; a paused job is left alone (the caller answers 409)."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM monitoring_jobs WHERE id = $1 FOR UPDATE", job_id)
        if status is None:
            return RunRequest.MISSING, None
        if status == "paused":
            return RunRequest.PAUSED, None
        row = await conn.fetchrow(_updated("next_run_at = now()"), job_id)
    return RunRequest.SCHEDULED, _job(row)


async def delete_job(pool: asyncpg.Pool, job_id: UUID) -> bool:
    return await pool.fetchval("DELETE FROM monitoring_jobs WHERE id = $1 RETURNING true", job_id) is not None
