"""SQL of the collector: which jobs still need an execution, and the write transaction of one or
more commands."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sma_common.platforms import METRIC_IDS

RECORDED_JOBS = """
SELECT job_id FROM job_executions WHERE job_id = ANY($1::uuid[]) AND scheduled_for = $2
"""

# ON CONFLICT DO NOTHING + RETURNING: a redelivered command records nothing twice, and only
# the executions inserted now get their points written. Every column is an array, so one
# statement writes the executions of several commands (the writer groups them).
INSERT_EXECUTIONS = """
INSERT INTO job_executions (job_id, account_id, platform, command_id, scheduled_for, started_at, finished_at,
                            status, error, api_calls, points_written, collector_instance)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                     $7::timestamptz[], $8::text[], $9::text[], $10::int[], $11::int[], $12::text[])
ON CONFLICT (job_id, scheduled_for) DO NOTHING
RETURNING job_id, scheduled_for
"""

INSERT_POINTS = """
INSERT INTO metric_points (account_id, metric, ts, value)
SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[], $4::float8[])
ON CONFLICT DO NOTHING
"""
POINT_COLUMNS = ("account_id", "metric", "ts", "value")
Point = tuple[int, int, datetime, float]  # account id, metric id, ts, value

# Rows in job-id order, so concurrent writers lock jobs in the same order (no deadlock). A
# rate-limited job is next due when the platform takes calls again (spread over the minute after
# the reset by the job's slot, so thousands held by one reset do not come due together), not at
# its interval; an
# account seen going live is next due within its job's live interval (adaptive polling).
UPDATE_JOBS = """
UPDATE monitoring_jobs AS j
SET last_run_at = u.finished_at, last_status = u.status, updated_at = now(),
    consecutive_failures = CASE WHEN u.status = 'success' THEN 0 ELSE j.consecutive_failures + 1 END,
    is_live = COALESCE(u.is_live, j.is_live),
    next_run_at = CASE
        WHEN u.retry_at IS NOT NULL THEN sma_job_slot(j.id, 1, u.retry_at)
        WHEN u.is_live AND j.live_interval_minutes IS NOT NULL
            THEN LEAST(j.next_run_at, u.finished_at + make_interval(mins => j.live_interval_minutes))
        ELSE j.next_run_at END
FROM (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::bool[])
          AS u(id, finished_at, status, retry_at, is_live)
      ORDER BY id) AS u
WHERE j.id = u.id
"""


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    job_id: uuid.UUID
    account_id: int
    status: str
    error: str | None
    points: tuple[tuple[str, float], ...]  # (metric name, value)
    retry_at: datetime | None = None  # rate_limited: when the platform takes calls again

    @property
    def is_live(self) -> bool | None:
        """Whether the account is live, when the platform said (adaptive polling)."""
        return next((value == 1.0 for metric, value in self.points if metric == "is_live"), None)


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


async def write_points(conn: asyncpg.Connection, points: Sequence[Point]) -> None:
    """Store the points, skipping any already stored (idempotent, like ON CONFLICT DO NOTHING).

    The usual case, none stored yet, goes as one binary COPY: about twice the rows a second of an
    insert that checks every row for a conflict. A point already there (a redelivered command, a
    concurrent writer) fails the COPY with a unique violation; it is rolled back to its savepoint
    and the batch redone as INSERT ... ON CONFLICT DO NOTHING."""
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("metric_points", records=points, columns=POINT_COLUMNS)
    except asyncpg.UniqueViolationError:
        await conn.execute(INSERT_POINTS, *(list(col) for col in zip(*points, strict=True)))


async def record_commands(pool: asyncpg.Pool, records: Sequence[CommandRecord]) -> list[Recorded]:
    """Write the commands' executions, their points and the jobs' last status in one
    transaction; one `Recorded` per command, in order."""
    rows = [(rec, row) for rec in records for row in rec.rows]
    async with pool.acquire() as conn, conn.transaction():
        inserted = {
            (r["job_id"], r["scheduled_for"])
            for r in await conn.fetch(
                INSERT_EXECUTIONS, [row.job_id for _, row in rows], [row.account_id for _, row in rows],
                [rec.platform for rec, _ in rows], [rec.command_id for rec, _ in rows],
                [rec.scheduled_for for rec, _ in rows], [rec.started_at for rec, _ in rows],
                [rec.finished_at for rec, _ in rows], [row.status for _, row in rows],
                [row.error for _, row in rows], [rec.api_calls for rec, _ in rows],
                [len(row.points) for _, row in rows], [rec.instance for rec, _ in rows],
            )
        }
        # A key inserted now belongs to its first row only (a command redelivered into the same
        # group must not count, or write points, twice).
        fresh = []
        for rec, row in rows:
            key = (row.job_id, rec.scheduled_for)
            if key in inserted:
                inserted.discard(key)
                fresh.append((rec, row))
        points = [
            (row.account_id, METRIC_IDS[m], rec.observed_at, v) for rec, row in fresh for m, v in row.points
        ]
        if points:
            await write_points(conn, points)
        if fresh:
            await conn.execute(UPDATE_JOBS, [row.job_id for _, row in fresh], [rec.finished_at for rec, _ in fresh],
                               [row.status for _, row in fresh], [row.retry_at for _, row in fresh],
                               [row.is_live for _, row in fresh])
    recorded = []
    for rec in records:
        mine = [row for r, row in fresh if r is rec]
        accounts = frozenset(row.account_id for row in mine if row.points)
        recorded.append(Recorded(len(mine), sum(len(row.points) for row in mine), accounts))
    return recorded
