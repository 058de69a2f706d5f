"""Maintenance state: small named values the maintenance operations keep between runs (the
rollups' watermarks: every bucket before it was rolled up from the points known at the time).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from sma_common.db.migrations.statements import execute_all

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE: list[str] = [
    """
    CREATE TABLE maintenance_state (
        name       text PRIMARY KEY,
        value      text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # Rollups are refreshed and expired by bucket range; their primary keys lead with the account.
    "CREATE INDEX metric_rollups_hourly_bucket_idx ON metric_rollups_hourly (bucket)",
    "CREATE INDEX metric_rollups_daily_bucket_idx ON metric_rollups_daily (bucket)",
]

DOWNGRADE: list[str] = [
    "DROP INDEX IF EXISTS metric_rollups_daily_bucket_idx",
    "DROP INDEX IF EXISTS metric_rollups_hourly_bucket_idx",
    "DROP TABLE IF EXISTS maintenance_state",
]


def upgrade() -> None:
    execute_all(UPGRADE)


def downgrade() -> None:
    execute_all(DOWNGRADE)
