"""Scheduling at scale: each job's slot within its interval, an index of dispatched jobs not yet
finished (the scheduler's backpressure), and adaptive polling (a faster interval while live).

`sma_job_slot(job_id, interval_minutes, after)` is the first whole second at or after `after`
that falls on the job's own phase within its interval; the phase comes from the job id, so a
hundred thousand jobs created (or given a new interval) at once spread evenly over the interval
instead of all coming due in the same second, and each keeps its phase afterwards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from sma_common.db.migrations.statements import execute_all

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE: list[str] = [
    """
    CREATE FUNCTION sma_job_slot(job_id uuid, interval_minutes integer, after timestamptz)
    RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
        SELECT to_timestamp(e + (((p - e % i) % i) + i) % i)
        FROM (SELECT ceil(extract(epoch FROM after))::bigint AS e,
                     interval_minutes::bigint * 60 AS i,
                     ('x' || substr(md5(job_id::text), 1, 8))::bit(32)::bigint
                         % (interval_minutes::bigint * 60) AS p) AS s
    $fn$
    """,
    # Adaptive polling: `live_interval_minutes` applies while the account is live (Twitch), as
    # the collector last saw it (`is_live`).
    """
    ALTER TABLE monitoring_jobs
        ADD COLUMN live_interval_minutes integer
            CONSTRAINT monitoring_jobs_live_interval_check
            CHECK (live_interval_minutes >= 1 AND live_interval_minutes < interval_minutes),
        ADD COLUMN is_live boolean NOT NULL DEFAULT false
    """,
    # Jobs dispatched and not finished since: how far each platform's collectors are behind.
    """
    CREATE INDEX monitoring_jobs_in_flight_idx ON monitoring_jobs (platform, last_dispatched_at)
    WHERE last_dispatched_at > coalesce(last_run_at, '-infinity'::timestamptz)
    """,
]

DOWNGRADE: list[str] = [
    "DROP INDEX IF EXISTS monitoring_jobs_in_flight_idx",
    "ALTER TABLE monitoring_jobs DROP COLUMN IF EXISTS is_live, DROP COLUMN IF EXISTS live_interval_minutes",
    "DROP FUNCTION IF EXISTS sma_job_slot(uuid, integer, timestamptz)",
]


def upgrade() -> None:
    execute_all(UPGRADE)


def downgrade() -> None:
    execute_all(DOWNGRADE)
