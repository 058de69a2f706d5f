"""SQL of the collector: which jobs still need an execution, and the one write transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sma_common.platforms import METRIC_IDS

RECORDED_JOBS = """
SELECT job_id FROM job_executions WHERE job_id = ANY($1::uuid[]) AND scheduled_for = $2
"""

# ON CONFLICT DO NOTHING + RETURNING: a redelivered command records nothing twice, and only
# the executions inserted now get their points written.
INSERT_EXECUTIONS = """
INSERT INTO job_executions (job_id, account_id, platform, command_id, scheduled_for, started_at, finished_at,
                            status, error, api_calls, points_written, collector_instance)
SELECT u.job_id, u.account_id, $3, $4, $5, $6, $7, u.status, u.error, $8, u.points, $9
FROM unnest($1::uuid[], $2::bigint[], $10::text[], $11::text[], $12::int[])
     AS u(job_id, account_id, status, error, points)
ON CONFLICT (job_id, scheduled_for) DO NOTHING
RETURNING job_id
"""

INSERT_POINTS = """
INSERT INTO metric_points (account_id, metric, ts, value)
SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[], $4::float8[])
ON CONFLICT DO NOTHING
"""

UPDATE_JOBS = """
UPDATE monitoring_jobs AS j
SET last_run_at = $2, last_status = u.status, updated_at = now(),
    consecutive_failures = CASE WHEN u.status = 'success' THEN 0 ELSE j.consecutive_failures + 1 END
FROM unnest($1::uuid[], $3::text[]) AS u(id, status)
WHERE j.id = u.id
"""


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    job_id: uuid.UUID
    account_id: int
    status: str
    error: str | None
    points: tuple[tuple[str, float], ...]  # (metric name, value)


@dataclass(frozen=True, slots=True)
class CommandRecord:
    platform: str
    command_id: str
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime
    observed_at: datetime
    api_calls: int
    instance: str
    rows: tuple[ExecutionRow, ...]


async def recorded_jobs(pool: asyncpg.Pool, job_ids: list[uuid.UUID], scheduled_for: datetime) -> set[uuid.UUID]:
    rows = await pool.fetch(RECORDED_JOBS, job_ids, scheduled_for)
    return {r["job_id"] for r in rows}


@dataclass(frozen=True, slots=True)
class Recorded:
    executions: int
    points: int
    accounts_with_points: frozenset[int]


async def record_command(pool: asyncpg.Pool, rec: CommandRecord) -> Recorded:
    """Write executions, their points and the jobs' last status in one transaction."""
    rows = rec.rows
    async with pool.acquire() as conn, conn.transaction():
        inserted = {
            r["job_id"]
            for r in await conn.fetch(
                INSERT_EXECUTIONS, [r.job_id for r in rows], [r.account_id for r in rows], rec.platform,
                rec.command_id, rec.scheduled_for, rec.started_at, rec.finished_at, rec.api_calls, rec.instance,
                [r.status for r in rows], [r.error for r in rows], [len(r.points) for r in rows],
            )
        }
        fresh = [r for r in rows if r.job_id in inserted]
        points = [(r.account_id, METRIC_IDS[m], rec.observed_at, v) for r in fresh for m, v in r.points]
        if points:
            await conn.execute(INSERT_POINTS, *(list(col) for col in zip(*points, strict=True)))
        if fresh:
            await conn.execute(UPDATE_JOBS, [r.job_id for r in fresh], rec.finished_at, [r.status for r in fresh])
    return Recorded(len(fresh), len(points), frozenset(p[0] for p in points))
