"""What holds the scheduler back: platforms whose commands are not being consumed, platforms on
hold after a 429, a spent quota or rejected credentials, and the backlog of late jobs to pace.

`Pressure.refresh()` reads, every `scheduler_pressure_refresh_seconds`:
- per platform, jobs dispatched and not yet finished (`last_dispatched_at > last_run_at`, through
  a partial index): above `scheduler_max_in_flight_per_platform` the platform is held
  (`backlog`), so commands pile up as due jobs in Postgres instead of on Kafka;
- the holds the collectors publish in Redis (`sma_common.rate_limit`): a held platform (a held
  Mastodon instance) is not dispatched until the hold ends;
- due jobs per platform, and the late ones (overdue by more than `scheduler_late_after_seconds`),
  for the metrics and the catch-up pace.

`CatchUp` paces late jobs: after an outage, the backlog is dispatched at a rate that drains it in
`scheduler_catchup_window_seconds` (at least `scheduler_catchup_min_rate` a second), on top of
the jobs coming due on time, instead of in one burst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker
from sma_common.platforms import Platform
from sma_common.rate_limit import SharedRateLimiter
from sma_scheduler.metrics import SchedulerMetrics
from sma_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

IN_FLIGHT = """
SELECT platform, count(*) AS n FROM monitoring_jobs
WHERE last_dispatched_at > coalesce(last_run_at, '-infinity'::timestamptz) AND last_dispatched_at > $1
GROUP BY platform
"""

DUE = """
SELECT platform, count(*) AS n, count(*) FILTER (WHERE next_run_at <= $2) AS late
FROM monitoring_jobs WHERE status = 'active' AND next_run_at <= $1
GROUP BY platform
"""


@dataclass(frozen=True, slots=True)
class Held:
    reason: str  # backlog, rate_limited, quota, auth_error
    until: datetime | None = None


@dataclass
class PressureState:
    refreshed_at: datetime | None = None
    due: dict[Platform, int] = field(default_factory=dict)
    late: int = 0
    in_flight: dict[Platform, int] = field(default_factory=dict)
    held: dict[Platform, Held] = field(default_factory=dict)
    held_instances: dict[str, Held] = field(default_factory=dict)  # Mastodon instance → hold


class Pressure:
    def __init__(self, settings: SchedulerSettings, limiter: SharedRateLimiter | None,
                 metrics: SchedulerMetrics) -> None:
        self._settings, self._limiter, self._metrics = settings, limiter, metrics
        self._breaker = RedisBreaker(5.0)
        self.state = PressureState()

    def stale(self, now: datetime) -> bool:
        refreshed, every = self.state.refreshed_at, self._settings.scheduler_pressure_refresh_seconds
        return refreshed is None or now - refreshed >= timedelta(seconds=every)

    async def refresh(self, conn: asyncpg.Connection, now: datetime) -> PressureState:
        s = self._settings
        in_flight_since = now - timedelta(seconds=s.scheduler_in_flight_ttl_seconds)
        in_flight = {Platform(r["platform"]): r["n"] for r in await conn.fetch(IN_FLIGHT, in_flight_since)}
        rows = await conn.fetch(DUE, now, now - timedelta(seconds=s.scheduler_late_after_seconds))
        due = {Platform(r["platform"]): r["n"] for r in rows}
        held: dict[Platform, Held] = {
            p: Held("backlog") for p, n in in_flight.items() if n >= s.scheduler_max_in_flight_per_platform
        }
        instances: dict[str, Held] = {}
        for platform, hold in await self._holds(now):
            if platform is Platform.MASTODON and hold[0]:
                instances[hold[0]] = hold[1]
            elif platform is not Platform.MASTODON:
                held.setdefault(platform, hold[1])
        self.state = PressureState(now, due, sum(r["late"] for r in rows), in_flight, held, instances)
        self._export()
        return self.state

    async def _holds(self, now: datetime) -> list[tuple[Platform, tuple[str, Held]]]:
        if self._limiter is None or not self._breaker.allows():
            return []
        found = []
        try:
            for platform in Platform:
                for hold in await self._limiter.holds(platform.value, now.timestamp()):
                    until = datetime.fromtimestamp(hold.until, now.tzinfo)
                    found.append((platform, (hold.scope, Held(hold.reason or "rate_limited", until))))
        except REDIS_FAILURES as exc:
            self._breaker.trip()
            log.warning("scheduler.holds_unavailable", error=repr(exc))
        return found

    def _export(self) -> None:
        m, state = self._metrics, self.state
        for platform in Platform:
            m.due_jobs.labels(platform.value).set(state.due.get(platform, 0))
            m.in_flight_jobs.labels(platform.value).set(state.in_flight.get(platform, 0))
            for reason in ("backlog", "rate_limited", "quota", "auth_error"):
                hold = state.held.get(platform)
                count = state.due.get(platform, 0) if hold is not None and hold.reason == reason else 0
                m.held_jobs.labels(platform.value, reason).set(count)
        m.late_jobs.set(state.late)

    def details(self) -> dict[str, object]:
        state = self.state
        return {
            "refreshed_at": state.refreshed_at.isoformat() if state.refreshed_at else None,
            "due": {p.value: n for p, n in state.due.items()},
            "late": state.late,
            "in_flight": {p.value: n for p, n in state.in_flight.items()},
            "held": {p.value: {"reason": h.reason, "until": h.until.isoformat() if h.until else None}
                     for p, h in state.held.items()},
            "held_instances": {i: {"reason": h.reason, "until": h.until.isoformat() if h.until else None}
                               for i, h in state.held_instances.items()},
        }


class CatchUp:
    """A token bucket for late jobs, its rate set from the late backlog at each refresh."""

    def __init__(self, settings: SchedulerSettings) -> None:
        self._settings = settings
        self._tokens = 0.0
        self._rate = float(settings.scheduler_catchup_min_rate)
        self._last: datetime | None = None

    def set_backlog(self, late: int) -> None:
        """Pace from the backlog: a rate that drains it within the window, kept while it drains
        (re-derived from the shrinking backlog, the last jobs would trickle out for ever)."""
        s = self._settings
        floor = float(s.scheduler_catchup_min_rate)
        wanted = late / s.scheduler_catchup_window_seconds
        self._rate = max(floor, wanted, self._rate if late else floor)

    def take(self, now: datetime, limit: int) -> int:
        """Reserve the late jobs this tick may dispatch (at most `limit`): the rate's worth of the
        time since the last tick, and at most one second's worth, so a long pause between ticks
        is not paid back at once. Reserved at once, so concurrent tick loops share the pace."""
        elapsed = 1.0 if self._last is None else max(0.0, (now - self._last).total_seconds())
        self._last = now
        self._tokens = min(self._rate, self._tokens + elapsed * self._rate)
        taken = min(limit, int(self._tokens))
        self._tokens -= taken
        return taken

    def give_back(self, unused: int) -> None:
        self._tokens = min(self._rate, self._tokens + unused)
