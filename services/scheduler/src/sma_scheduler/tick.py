"""One scheduler tick, and the loop that runs ticks until the service stops.

A tick claims due jobs, produces their commands and waits for the broker's acknowledgement,
then advances `next_run_at`, all inside one database transaction: if the process dies or the
produce fails before the commit, the jobs stay due and the next tick (of any replica)
dispatches them again. At-least-once; the collector's writes are idempotent. Late jobs are
claimed at the catch-up pace, and held platforms not at all (`pressure`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from aiokafka.errors import KafkaError

from sma_common.clock import Clock
from sma_common.db import TRANSIENT_DB_ERRORS, DatabasePool
from sma_common.kafka import KafkaProducer
from sma_common.messages import FetchCommand, encode_command
from sma_common.platforms import Platform
from sma_common.service import sleep_or_stop
from sma_scheduler.metrics import SchedulerMetrics
from sma_scheduler.planning import DueJob, plan_commands
from sma_scheduler.pressure import CatchUp, Pressure
from sma_scheduler.repository import advance_jobs, claim_due_jobs
from sma_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

# Failures a tick survives (the next tick retries); anything else is a bug and stops the service.
TRANSIENT_ERRORS = (*TRANSIENT_DB_ERRORS, KafkaError)
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class TickResult:
    jobs: int
    commands: int
    full: bool = False  # the claim was full: more is due now


class Ticker:
    def __init__(self, settings: SchedulerSettings, db: DatabasePool, producer: KafkaProducer,
                 metrics: SchedulerMetrics, clock: Clock, pressure: Pressure) -> None:
        self._settings, self._db, self._producer = settings, db, producer
        self._metrics, self._clock, self._pressure = metrics, clock, pressure
        self._catch_up = CatchUp(settings)
        self._refreshing = asyncio.Lock()
        self.last_tick_at: datetime | None = None
        self.last_result: TickResult | None = None
        self.consecutive_errors = 0

    async def tick(self) -> TickResult:
        s = self._settings
        async with self._db.pool.acquire() as conn:
            async with self._refreshing:
                if self._pressure.stale(self._clock.now()):
                    state = await self._pressure.refresh(conn, self._clock.now())
                    self._catch_up.set_backlog(state.late)
            state = self._pressure.state
            async with conn.transaction():
                now = self._clock.now()
                late_before = now - timedelta(seconds=s.scheduler_late_after_seconds)
                platforms, instances = state.held.keys(), state.held_instances.keys()
                # Late jobs (after an outage) at the catch-up pace, then every job due on time.
                quota = self._catch_up.take(now, s.scheduler_claim_limit)
                late = await claim_due_jobs(conn, late_before, quota, held_platforms=platforms,
                                            held_instances=instances)
                self._catch_up.give_back(quota - len(late))
                on_time = await claim_due_jobs(conn, now, s.scheduler_claim_limit - len(late), after=late_before,
                                               held_platforms=platforms, held_instances=instances)
                due = late + on_time
                if not due:
                    return TickResult(0, 0)
                plan = plan_commands(due, now, timedelta(seconds=s.scheduler_command_deadline_seconds))
                await self._producer.send_batch(
                    s.kafka_commands_topic, [(c.command_id.encode(), encode_command(c)) for c in plan.commands]
                )
                await advance_jobs(conn, plan.next_runs, now)
        self._record(now, due, plan.commands)
        log.info("scheduler.dispatched", jobs=len(due), late=len(late), commands=len(plan.commands))
        return TickResult(len(due), len(plan.commands), full=len(on_time) >= s.scheduler_claim_limit - len(late))

    def _record(self, now: datetime, due: list[DueJob], commands: tuple[FetchCommand, ...]) -> None:
        lags: dict[Platform, list[float]] = {}
        for job in due:
            lags.setdefault(job.platform, []).append((now - job.next_run_at).total_seconds())
        for platform, values in lags.items():
            self._metrics.jobs_dispatched.labels(platform.value).inc(len(values))
            histogram = self._metrics.dispatch_lag.labels(platform.value)  # one label lookup per platform
            for lag in values:
                histogram.observe(lag)
        for platform, count in Counter(c.platform for c in commands).items():
            self._metrics.commands_dispatched.labels(platform.value).inc(count)

    async def run(self, stopping: asyncio.Event) -> None:
        """`scheduler_claim_workers` tick loops: each claims in its own transaction (SKIP LOCKED
        keeps their claims apart), so one's database round trips overlap another's produce."""
        await asyncio.gather(*(self._work(stopping) for _ in range(self._settings.scheduler_claim_workers)))

    async def _work(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            started = time.perf_counter()
            try:
                result = await self.tick()
            except TRANSIENT_ERRORS as exc:
                self.consecutive_errors += 1
                self._metrics.ticks.labels("error").inc()
                log.warning("scheduler.tick_failed", error=repr(exc), consecutive=self.consecutive_errors)
                # Back off while a dependency is down, without giving up.
                doublings = min(self.consecutive_errors, 16)  # bounded: 2**n overflows a float past 1023
                backoff = min(MAX_BACKOFF_SECONDS, self._settings.scheduler_tick_seconds * 2**doublings)
                await sleep_or_stop(stopping, backoff)
                continue
            self.consecutive_errors = 0
            self.last_tick_at, self.last_result = self._clock.now(), result
            self._metrics.ticks.labels("ok").inc()
            self._metrics.tick_duration.observe(time.perf_counter() - started)
            self._metrics.last_tick.set(time.time())
            # A full claim means more is due: go again at once instead of waiting a tick.
            if not result.full:
                await sleep_or_stop(stopping, self._settings.scheduler_tick_seconds)

    def details(self) -> dict[str, object]:
        return {
            "pressure": self._pressure.details(),
            "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None,
            "last_tick_jobs": self.last_result.jobs if self.last_result else None,
            "last_tick_commands": self.last_result.commands if self.last_result else None,
            "consecutive_errors": self.consecutive_errors,
        }
