"""SQL of the scheduler: claim due jobs without blocking other replicas, advance them."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

import asyncpg

from sma_common.platforms import Platform
from sma_scheduler.planning import DueJob

NEVER = datetime(1, 1, 1, tzinfo=UTC)

# SKIP LOCKED: a row another replica has claimed in its open transaction is skipped, not waited
# for, so any number of schedulers share the due set without dispatching a job twice. Jobs due
# in (after, upto] only, so late and on-time jobs can be claimed apart (late ones are paced);
# held platforms (and held Mastodon instances) are left due.
CLAIM_DUE_JOBS = """
SELECT j.id, j.account_id, j.platform, a.external_id, a.handle, j.interval_minutes, j.next_run_at,
       j.live_interval_minutes, j.is_live
FROM monitoring_jobs j
JOIN accounts a ON a.id = j.account_id
WHERE j.status = 'active' AND j.next_run_at <= $1 AND j.next_run_at > $3
  AND j.platform <> ALL($4::text[])
  AND NOT (j.platform = 'mastodon' AND split_part(a.external_id, ':', 1) = ANY($5::text[]))
ORDER BY j.next_run_at
LIMIT $2
FOR UPDATE OF j SKIP LOCKED
"""

ADVANCE_JOBS = """
UPDATE monitoring_jobs AS j
SET next_run_at = u.next_run_at, last_dispatched_at = $3, updated_at = now()
FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, next_run_at)
WHERE j.id = u.id
"""


async def claim_due_jobs(
    conn: asyncpg.Connection, upto: datetime, limit: int, *, after: datetime | None = None,
    held_platforms: Collection[Platform] = (), held_instances: Collection[str] = (),
) -> list[DueJob]:
    if limit <= 0:
        return []
    rows = await conn.fetch(
        CLAIM_DUE_JOBS, upto, limit, after or NEVER, [p.value for p in held_platforms], list(held_instances)
    )
    return [
        DueJob(r["id"], r["account_id"], Platform(r["platform"]), r["external_id"], r["handle"],
               r["interval_minutes"], r["next_run_at"], r["live_interval_minutes"], r["is_live"])
        for r in rows
    ]


async def advance_jobs(conn: asyncpg.Connection, next_runs: dict[uuid.UUID, datetime], now: datetime) -> None:
    await conn.execute(ADVANCE_JOBS, list(next_runs), list(next_runs.values()), now)
