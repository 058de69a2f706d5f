"""Health of the database, as findings an operator can act on: connections against the limit,
long-running and idle-in-transaction sessions, slowest statements (pg_stat_statements, when
installed), missing future partitions, dead-tuple bloat and stale jobs (accounts not refreshed
within twice their interval)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import asyncpg

from sma_maintenance.operations.partitions import PARTITIONED_TABLES, list_partitions

DEFAULT_LONG_QUERY_SECONDS = 300.0
DEFAULT_MIN_PARTITION_DAYS_AHEAD = 3
CONNECTIONS_WARN_RATIO = 0.8
BLOAT_DEAD_RATIO = 0.2
BLOAT_MIN_DEAD_TUPLES = 10_000
SLOWEST_STATEMENTS = 5

CONNECTIONS = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
       current_setting('max_connections')::int AS max
"""

# Sessions busy (or idle inside a transaction) for longer than $1 seconds, other than this one.
LONG_SESSIONS = """
SELECT pid, state, coalesce(application_name, '') AS application,
       extract(epoch FROM now() - coalesce(xact_start, query_start))::float8 AS seconds,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
  AND now() - coalesce(xact_start, query_start) > make_interval(secs => $1)
ORDER BY seconds DESC
"""

STATEMENTS = """
SELECT left(query, 200) AS query, calls, mean_exec_time AS mean_ms, total_exec_time AS total_ms
FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT $1
"""

BLOAT = """
SELECT relname AS name, n_live_tup AS live, n_dead_tup AS dead
FROM pg_stat_user_tables
WHERE n_dead_tup >= $1 AND n_dead_tup::float8 / (n_live_tup + n_dead_tup) > $2
ORDER BY n_dead_tup DESC
"""

# Active jobs with no fresh data: no run within twice the interval (never run: since creation),
# or the last two runs or more failed. A job resumed after a long pause counts until it runs.
STALE_JOBS = """
SELECT platform, count(*) AS n FROM monitoring_jobs
WHERE status = 'active'
  AND (coalesce(last_run_at, created_at) < now() - make_interval(mins => 2 * interval_minutes)
       OR (last_status IS DISTINCT FROM 'success' AND consecutive_failures >= 2))
GROUP BY platform
"""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, and what to do about it."""

    check: str
    detail: str
    advice: str


@dataclass(frozen=True, slots=True)
class Session:
    pid: int
    state: str
    application: str
    seconds: float
    query: str


@dataclass(frozen=True, slots=True)
class Statement:
    query: str
    calls: int
    mean_ms: float
    total_ms: float


@dataclass(frozen=True, slots=True)
class CheckReport:
    connections_used: int
    max_connections: int
    long_sessions: tuple[Session, ...]
    statements: tuple[Statement, ...] | None  # None: pg_stat_statements is not available
    statements_note: str
    days_ahead: dict[str, int]  # complete days of partitions from today, per table
    bloated: dict[str, float]  # dead tuple ratio of the tables above the threshold
    findings: tuple[Finding, ...] = field(default=())
    stale_jobs: dict[str, int] = field(default_factory=dict)  # per platform, only platforms with some

    @property
    def needs_action(self) -> bool:
        return bool(self.findings)

    def summary(self) -> dict[str, object]:
        return {"needs_action": self.needs_action, "connections": f"{self.connections_used}/{self.max_connections}",
                "findings": [{"check": f.check, "detail": f.detail} for f in self.findings],
                "pg_stat_statements": self.statements is not None}


async def _statements(conn: asyncpg.Connection) -> tuple[tuple[Statement, ...] | None, str]:
    if not await conn.fetchval("SELECT true FROM pg_extension WHERE extname = 'pg_stat_statements'"):
        return None, ("pg_stat_statements is not installed: add it to shared_preload_libraries and run "
                      "CREATE EXTENSION pg_stat_statements to see the slowest statements")
    try:
        rows = await conn.fetch(STATEMENTS, SLOWEST_STATEMENTS)
    except asyncpg.PostgresError as exc:  # installed but not preloaded
        return None, f"pg_stat_statements is not available: {exc}"
    return tuple(Statement(r["query"], r["calls"], r["mean_ms"], r["total_ms"]) for r in rows), "ok"


def complete_days_ahead(days: set[date], today: date) -> int:
    """How many consecutive daily partitions exist from today on (0: not even today's)."""
    ahead = 0
    while today + timedelta(days=ahead) in days:
        ahead += 1
    return ahead


def _findings(report: CheckReport, min_days_ahead: int) -> list[Finding]:
    found = []
    if report.connections_used >= CONNECTIONS_WARN_RATIO * report.max_connections:
        found.append(Finding("connections", f"{report.connections_used} of {report.max_connections} in use",
                             "lower SMA_DATABASE_POOL_MAX_SIZE or replicas, or raise max_connections"))
    for s in report.long_sessions:
        found.append(Finding(
            "idle_in_transaction" if s.state.startswith("idle") else "long_running_query",
            f"pid {s.pid} ({s.application or 'unknown'}) {s.state} for {s.seconds:.0f}s: {s.query}",
            f"find its owner, or end it: SELECT pg_terminate_backend({s.pid})",
        ))
    for table, ahead in report.days_ahead.items():
        if ahead < min_days_ahead:
            found.append(Finding("partitions", f"{table}: {ahead} day(s) of partitions ahead (want {min_days_ahead})",
                                 "sma db maintenance --operation partitions (and check the maintenance service)"))
    for platform, n in report.stale_jobs.items():
        found.append(Finding("stale_jobs", f"{platform}: {n} active job(s) not refreshed within twice their interval",
                             "see the runbook, 'Monitoring jobs not running' (sma jobs list --platform "
                             f"{platform}; the executions say why)"))
    for table, ratio in report.bloated.items():
        found.append(Finding("bloat", f"{table}: {ratio:.0%} dead tuples",
                             f"sma db maintenance --operation vacuum (or VACUUM {table}); check autovacuum"))
    return found


async def run_checks(conn: asyncpg.Connection, *, long_query_seconds: float = DEFAULT_LONG_QUERY_SECONDS,
                     min_days_ahead: int = DEFAULT_MIN_PARTITION_DAYS_AHEAD) -> CheckReport:
    row = await conn.fetchrow(CONNECTIONS)
    sessions = tuple(Session(r["pid"], r["state"], r["application"], r["seconds"], r["query"])
                     for r in await conn.fetch(LONG_SESSIONS, long_query_seconds))
    statements, note = await _statements(conn)
    today = datetime.now(UTC).date()
    days_ahead = {t: complete_days_ahead({p.day for p in await list_partitions(conn, t)}, today)
                  for t in PARTITIONED_TABLES}
    bloated = {r["name"]: r["dead"] / (r["live"] + r["dead"])
               for r in await conn.fetch(BLOAT, BLOAT_MIN_DEAD_TUPLES, BLOAT_DEAD_RATIO)}
    stale = {r["platform"]: r["n"] for r in await conn.fetch(STALE_JOBS)}
    report = CheckReport(row["used"], row["max"], sessions, statements, note, days_ahead, bloated, stale_jobs=stale)
    return replace(report, findings=tuple(_findings(report, min_days_ahead)))
