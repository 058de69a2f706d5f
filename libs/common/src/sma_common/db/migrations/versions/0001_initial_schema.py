"""Initial schema: accounts, jobs, executions, metric points and rollups, API keys, heartbeats.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from sma_common.db.migrations.statements import execute_all

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_EXECUTION_STATUSES = "'success', 'failed', 'rate_limited', 'auth_error', 'not_found', 'timeout'"
_PLATFORMS = "'twitch', 'youtube', 'x', 'reddit', 'bluesky', 'mastodon'"

UPGRADE: list[str] = [
    """
    CREATE TABLE metrics (
        id          smallint PRIMARY KEY,
        name        text NOT NULL UNIQUE,
        unit        text NOT NULL DEFAULT 'count',
        description text NOT NULL
    )
    """,
    """
    INSERT INTO metrics (id, name, unit, description) VALUES
        (1,  'followers',     'count',   'Followers of the account'),
        (2,  'following',     'count',   'Accounts the account follows'),
        (3,  'posts',         'count',   'Posts, tweets or statuses published'),
        (4,  'listed',        'count',   'Lists the account is on (X)'),
        (5,  'subscribers',   'count',   'Subscribers (YouTube channels, subreddits)'),
        (6,  'views',         'count',   'Total views (YouTube)'),
        (7,  'videos',        'count',   'Videos published (YouTube)'),
        (8,  'live_viewers',  'count',   'Viewers of the live stream (Twitch)'),
        (9,  'is_live',       'boolean', '1 while the account is streaming, else 0 (Twitch)'),
        (10, 'karma_link',    'count',   'Link karma (Reddit users)'),
        (11, 'karma_comment', 'count',   'Comment karma (Reddit users)'),
        (12, 'karma_total',   'count',   'Total karma (Reddit users)'),
        (13, 'active_users',  'count',   'Active users (subreddits, when still reported)')
    """,
    f"""
    CREATE TABLE accounts (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform     text NOT NULL CHECK (platform IN ({_PLATFORMS})),
        external_id  text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 256),
        handle       text NOT NULL CHECK (length(handle) BETWEEN 1 AND 256),
        display_name text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_platform_external_id_key UNIQUE (platform, external_id)
    )
    """,
    "CREATE INDEX accounts_platform_handle_idx ON accounts (platform, lower(handle))",
    f"""
    CREATE TABLE monitoring_jobs (
        id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id           bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        platform             text NOT NULL CHECK (platform IN ({_PLATFORMS})),
        interval_minutes     integer NOT NULL CHECK (interval_minutes BETWEEN 1 AND 10080),
        status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
        next_run_at          timestamptz NOT NULL DEFAULT now(),
        last_run_at          timestamptz,
        last_status          text CHECK (last_status IN ({_EXECUTION_STATUSES})),
        last_dispatched_at   timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT monitoring_jobs_account_id_key UNIQUE (account_id)
    )
    """,
    # The scheduler's claim query scans only active jobs in due order.
    "CREATE INDEX monitoring_jobs_due_idx ON monitoring_jobs (next_run_at) WHERE status = 'active'",
    "CREATE INDEX monitoring_jobs_platform_status_idx ON monitoring_jobs (platform, status)",
    f"""
    CREATE TABLE job_executions (
        id                 uuid NOT NULL DEFAULT gen_random_uuid(),
        job_id             uuid NOT NULL,
        account_id         bigint NOT NULL,
        platform           text NOT NULL,
        command_id         text NOT NULL,
        scheduled_for      timestamptz NOT NULL,
        started_at         timestamptz NOT NULL,
        finished_at        timestamptz NOT NULL,
        status             text NOT NULL CHECK (status IN ({_EXECUTION_STATUSES})),
        error              text,
        api_calls          integer NOT NULL DEFAULT 0,
        points_written     integer NOT NULL DEFAULT 0,
        collector_instance text,
        -- One execution per job and dispatch: a redelivered command cannot record twice.
        PRIMARY KEY (job_id, scheduled_for)
    ) PARTITION BY RANGE (scheduled_for)
    """,
    """
    CREATE TABLE metric_points (
        account_id bigint NOT NULL,
        metric     smallint NOT NULL,
        ts         timestamptz NOT NULL,
        value      double precision NOT NULL,
        PRIMARY KEY (account_id, metric, ts)
    ) PARTITION BY RANGE (ts)
    """,
    """
    CREATE TABLE metric_rollups_hourly (
        account_id bigint NOT NULL,
        metric     smallint NOT NULL,
        bucket     timestamptz NOT NULL,
        min        double precision NOT NULL,
        max        double precision NOT NULL,
        first      double precision NOT NULL,
        last       double precision NOT NULL,
        count      integer NOT NULL,
        PRIMARY KEY (account_id, metric, bucket)
    )
    """,
    """
    CREATE TABLE metric_rollups_daily (
        account_id bigint NOT NULL,
        metric     smallint NOT NULL,
        bucket     timestamptz NOT NULL,
        min        double precision NOT NULL,
        max        double precision NOT NULL,
        first      double precision NOT NULL,
        last       double precision NOT NULL,
        count      integer NOT NULL,
        PRIMARY KEY (account_id, metric, bucket)
    )
    """,
    """
    CREATE TABLE api_keys (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        prefix       text NOT NULL UNIQUE,
        secret_hash  bytea NOT NULL,
        scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[]),
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at   timestamptz
    )
    """,
    """
    CREATE TABLE service_heartbeats (
        service    text NOT NULL,
        instance   text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        last_seen  timestamptz NOT NULL,
        details    jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (service, instance)
    )
    """,
    # Daily range partitions, created ahead by maintenance (and here, for the first days).
    # Idempotent: an existing partition is skipped. Returns how many it created.
    """
    CREATE FUNCTION sma_ensure_daily_partitions(parent text, first_day date, days integer)
    RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        day date;
        name text;
        created integer := 0;
    BEGIN
        FOR i IN 0 .. days - 1 LOOP
            day := first_day + i;
            name := parent || '_p' || to_char(day, 'YYYYMMDD');
            IF to_regclass(name) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    name, parent, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
                );
                created := created + 1;
            END IF;
        END LOOP;
        RETURN created;
    END
    $fn$
    """,
    "SELECT sma_ensure_daily_partitions('metric_points', (now() AT TIME ZONE 'UTC')::date - 1, 9)",
    "SELECT sma_ensure_daily_partitions('job_executions', (now() AT TIME ZONE 'UTC')::date - 1, 9)",
]

DOWNGRADE: list[str] = [
    "DROP FUNCTION IF EXISTS sma_ensure_daily_partitions(text, date, integer)",
    "DROP TABLE IF EXISTS service_heartbeats",
    "DROP TABLE IF EXISTS api_keys",
    "DROP TABLE IF EXISTS metric_rollups_daily",
    "DROP TABLE IF EXISTS metric_rollups_hourly",
    "DROP TABLE IF EXISTS metric_points",
    "DROP TABLE IF EXISTS job_executions",
    "DROP TABLE IF EXISTS monitoring_jobs",
    "DROP TABLE IF EXISTS accounts",
    "DROP TABLE IF EXISTS metrics",
]


def upgrade() -> None:
    execute_all(UPGRADE)


def downgrade() -> None:
    execute_all(DOWNGRADE)
