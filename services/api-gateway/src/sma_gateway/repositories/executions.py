"""SQL for job executions: one job's runs, newest first, keyset-paginated on `scheduled_for`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from sma_gateway.schemas import ExecutionOut, ExecutionStatus


async def list_executions(
    pool: asyncpg.Pool, job_id: UUID, status: ExecutionStatus | None, before: datetime | None, limit: int
) -> list[ExecutionOut]:
    # (job_id, scheduled_for) is the primary key, so scheduled_for alone orders one job's runs.
    rows = await pool.fetch(
        """
        SELECT id, job_id, scheduled_for, started_at, finished_at, status, error, api_calls,
               points_written, collector_instance
        FROM job_executions
        WHERE job_id = $1
          AND ($2::text IS NULL OR status = $2)
          AND ($3::timestamptz IS NULL OR scheduled_for < $3)
        ORDER BY scheduled_for DESC
        LIMIT $4
        """,
        job_id, status, before, limit,
    )
    return [ExecutionOut.model_validate(dict(row)) for row in rows]
