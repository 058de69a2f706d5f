"""Handling one fetch command: skip what is already recorded, fetch once per batch, persist.

The stages: decode (in the consumer) → drop jobs already recorded for this dispatch → fetch
through the platform adapter (which classifies every item's outcome) → persist executions and
points in one transaction. Every job of a command ends with exactly one execution row.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta

import structlog

from sma_collector.metrics import CollectorMetrics
from sma_collector.repository import CommandRecord, ExecutionRow, Recorded, recorded_jobs
from sma_common.clock import Clock
from sma_common.db import TRANSIENT_DB_ERRORS, DatabasePool
from sma_common.errors import TransientError
from sma_common.messages import FetchCommand
from sma_common.platforms import Platform
from sma_common.retry import RetryPolicy
from sma_platforms import FetchResult, FetchTarget, ItemResult, Outcome, PlatformAdapter

log = structlog.get_logger(__name__)

Invalidate = Callable[[Iterable[int]], Awaitable[object]]
Write = Callable[[CommandRecord], Awaitable[Recorded]]
# A reset further out than this (a day: YouTube's quota) is not trusted blindly.
MAX_RETRY_AFTER_SECONDS = 86_400.0
WRITE_RETRY = RetryPolicy(
    on=(*TRANSIENT_DB_ERRORS, TransientError), max_attempts=5, max_elapsed=30.0, base_delay=0.2, max_delay=5.0
)


class CommandHandler:
    def __init__(self, db: DatabasePool, adapters: Mapping[Platform, PlatformAdapter], metrics: CollectorMetrics,
                 clock: Clock, instance: str, invalidate: Invalidate, write: Write) -> None:
        self._db, self._adapters, self._metrics = db, adapters, metrics
        self._clock, self._instance, self._invalidate, self._write = clock, instance, invalidate, write

    async def handle(self, command: FetchCommand) -> None:
        platform = command.platform.value
        done = await recorded_jobs(self._db.pool, [i.job_id for i in command.items], command.scheduled_for)
        targets = [
            FetchTarget(i.job_id, i.account_id, i.external_id, i.handle) for i in command.items if i.job_id not in done
        ]
        if not targets:
            self._metrics.commands.labels(platform, "duplicate").inc()
            return
        started = self._clock.now()
        if started > command.deadline:
            result = _uniform(targets, Outcome.TIMEOUT, "command expired before it was fetched", started)
            kind = "expired"
        else:
            result = await self._fetch(command.platform, targets)
            kind = "processed"
        self._metrics.api_calls.labels(platform).inc(result.api_calls)
        finished = self._clock.now()
        rows = tuple(_row(t, result.items[t.job_id], finished) for t in targets)
        record = CommandRecord(platform, command.command_id, command.scheduled_for, started, finished,
                               result.observed_at, result.api_calls, self._instance, rows)
        # The fetched result is kept across write retries: a database blip costs no API call.
        recorded = await WRITE_RETRY.call(lambda: self._write(record), what="collector.write",
                                          on_retry=lambda _: self._metrics.retries.inc())
        # After the commit: a cached read of these accounts would otherwise hide the new points
        # until its TTL ran out.
        await self._invalidate(recorded.accounts_with_points)
        self._metrics.commands.labels(platform, kind).inc()
        self._metrics.points_written.labels(platform).inc(recorded.points)
        for row in rows:
            self._metrics.executions.labels(platform, row.status).inc()
        log.info("collector.command_done", jobs=len(targets), executions=recorded.executions,
                 points=recorded.points, api_calls=result.api_calls)

    async def _fetch(self, platform: Platform, targets: list[FetchTarget]) -> FetchResult:
        adapter = self._adapters.get(platform)
        if adapter is None or not adapter.is_configured:
            return _uniform(targets, Outcome.FAILED, f"platform {platform.value} is not configured", self._clock.now())
        started = time.perf_counter()
        try:
            return await adapter.fetch(targets)
        finally:
            self._metrics.fetch_duration.labels(platform.value).observe(time.perf_counter() - started)


def _uniform(targets: list[FetchTarget], outcome: Outcome, error: str, at: datetime) -> FetchResult:
    return FetchResult(items={t.job_id: ItemResult(outcome, (), error) for t in targets}, api_calls=0, observed_at=at)


def _row(target: FetchTarget, item: ItemResult, finished: datetime) -> ExecutionRow:
    retry_at = None
    if item.outcome is Outcome.RATE_LIMITED and item.retry_after is not None:
        retry_at = finished + timedelta(seconds=min(item.retry_after, MAX_RETRY_AFTER_SECONDS))
    return ExecutionRow(
        target.job_id, target.account_id, item.outcome.value, item.error,
        tuple((o.metric, o.value) for o in item.observations), retry_at,
    )
