"""Compact layout for closed days of metric points, and one read over both layouts.

`metric_points_compact` holds one row per account, metric and UTC day with the day's points as
two arrays in time order (the maintenance `compact` operation moves closed partitions there):
about 16 bytes a point instead of about 100 for a row with its primary key entry.

`metric_points_between(start, stop)` returns the points in `[start, stop)` from both layouts and
is what every reader of points uses (`metric_points_all` is the same over all time). A point in
both (a late write re-inserted into a compacted day) comes once, the compacted copy, so a read
never sees a duplicate whatever the collector writes. It is a plain SQL function so the planner
inlines it: a caller's `WHERE account_id = $1 AND metric = $2` reaches both index scans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from sma_common.db.migrations.statements import execute_all

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE: list[str] = [
    """
    CREATE TABLE metric_points_compact (
        account_id bigint NOT NULL,
        metric     smallint NOT NULL,
        day        date NOT NULL,
        ts         timestamptz[] NOT NULL,
        value      double precision[] NOT NULL,
        PRIMARY KEY (account_id, metric, day),
        CHECK (cardinality(ts) = cardinality(value))
    )
    """,
    # Retention deletes compacted days by day (a few rows a day per account, not one per point).
    "CREATE INDEX metric_points_compact_day_idx ON metric_points_compact (day)",
    """
    CREATE FUNCTION metric_points_between(start timestamptz, stop timestamptz)
    RETURNS TABLE (account_id bigint, metric smallint, ts timestamptz, value double precision)
    LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
        SELECT c.account_id, c.metric, u.ts, u.value
        FROM metric_points_compact c CROSS JOIN LATERAL unnest(c.ts, c.value) AS u(ts, value)
        WHERE c.day >= (start AT TIME ZONE 'UTC')::date AND c.day <= (stop AT TIME ZONE 'UTC')::date
          AND u.ts >= start AND u.ts < stop
        UNION ALL
        SELECT p.account_id, p.metric, p.ts, p.value
        FROM metric_points p
        WHERE p.ts >= start AND p.ts < stop
          AND NOT EXISTS (
              SELECT FROM metric_points_compact c
              WHERE c.account_id = p.account_id AND c.metric = p.metric
                AND c.day = (p.ts AT TIME ZONE 'UTC')::date
                AND c.day >= (start AT TIME ZONE 'UTC')::date AND c.day <= (stop AT TIME ZONE 'UTC')::date
                AND p.ts = ANY (c.ts))
    $fn$
    """,
    """
    CREATE VIEW metric_points_all AS
    SELECT account_id, metric, ts, value FROM metric_points_between('-infinity', 'infinity')
    """,
]

DOWNGRADE: list[str] = [
    # Compacted points go back to their (emptied, still attached) daily partitions first: a
    # downgrade loses no data, and fails rather than drop points whose partition is gone.
    """
    INSERT INTO metric_points (account_id, metric, ts, value)
    SELECT c.account_id, c.metric, u.ts, u.value
    FROM metric_points_compact c CROSS JOIN LATERAL unnest(c.ts, c.value) AS u(ts, value)
    ON CONFLICT DO NOTHING
    """,
    "DROP VIEW IF EXISTS metric_points_all",
    "DROP FUNCTION IF EXISTS metric_points_between(timestamptz, timestamptz)",
    "DROP TABLE IF EXISTS metric_points_compact",
]


def upgrade() -> None:
    execute_all(UPGRADE)


def downgrade() -> None:
    execute_all(DOWNGRADE)
