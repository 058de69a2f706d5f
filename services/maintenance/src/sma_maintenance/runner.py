"""The maintenance loop: while leader, run the due operations and record how they went.

A failing operation is recorded (status, error, metrics) and tried again next interval; it never
stops the service. This is deliberate, against the usual "a loop that raises stops the service":
one operation failing (a lock timeout, a bug in a report) must not stop the others, least of all
partition creation.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry

from sma_common.db import TRANSIENT_DB_ERRORS, DatabasePool
from sma_common.service import sleep_or_stop
from sma_maintenance.leadership import Leadership
from sma_maintenance.metrics import MaintenanceMetrics
from sma_maintenance.operations import OperationBusy, OperationParams, Report, Retention, run_operation
from sma_maintenance.schedule import TASKS, due_tasks
from sma_maintenance.settings import MaintenanceSettings

log = structlog.get_logger(__name__)


def operation_params(settings: MaintenanceSettings) -> OperationParams:
    s = settings
    return OperationParams(
        days_ahead=s.maintenance_partition_days_ahead,
        retention=Retention(s.maintenance_points_retention_days, s.maintenance_executions_retention_days,
                            s.maintenance_rollup_retention_days),
        long_query_seconds=s.maintenance_long_query_seconds,
        min_partition_days_ahead=s.maintenance_min_partition_days_ahead,
        rollup_chunk_hours=s.maintenance_rollup_chunk_hours,
        batch_rows=s.maintenance_cleanup_batch_rows,
        lock_timeout_ms=s.maintenance_lock_timeout_ms,
        compact_min_age_days=s.maintenance_compact_min_age_days,
    )


class Runner:
    def __init__(self, settings: MaintenanceSettings, db: DatabasePool, registry: CollectorRegistry) -> None:
        self._settings, self._db = settings, db
        self._params = operation_params(settings)
        self._intervals = {t: float(getattr(settings, f"maintenance_{t}_interval_seconds")) for t in TASKS}
        self._last_started: dict[str, float] = {}
        self.leadership = Leadership(db)
        self.last_runs: dict[str, dict[str, object]] = {}
        self.metrics = MaintenanceMetrics(registry)

    async def run_task(self, task: str) -> str:
        """Run one operation now; returns its status (success, skipped or error), never raises
        for the operation's own failure."""
        started, status = time.perf_counter(), "error"
        record: dict[str, object] = {"at": datetime.now(UTC).isoformat()}
        try:
            async with self._db.pool.acquire() as conn:
                report: Report = await run_operation(conn, task, self._params)
            status = "success"
            record["summary"] = report.summary()
            self.metrics.record(report)
        except OperationBusy as exc:
            status, record["detail"] = "skipped", str(exc)
        except Exception as exc:  # recorded and retried next interval (module docstring)
            record["error"] = repr(exc)
            log.warning("maintenance.task_failed", task=task, error=repr(exc),
                        exc_info=not isinstance(exc, TRANSIENT_DB_ERRORS))
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe_run(task, status, elapsed)
        self.last_runs[task] = {**record, "status": status, "duration_seconds": round(elapsed, 3)}
        log.info("maintenance.task", task=task, status=status, seconds=round(elapsed, 3))
        return status

    async def _run_due(self, stopping: asyncio.Event) -> None:
        for task in due_tasks(self._intervals, self._last_started, time.monotonic()):
            if stopping.is_set() or not self.leadership.is_leader:
                return
            self._last_started[task] = time.monotonic()
            await self.run_task(task)

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            while not stopping.is_set():
                try:
                    leader = await self.leadership.try_acquire()
                except TRANSIENT_DB_ERRORS as exc:
                    leader = False
                    log.warning("maintenance.leadership_failed", error=repr(exc))
                self.metrics.leader.set(1 if leader else 0)
                if leader:
                    await self._run_due(stopping)
                await sleep_or_stop(stopping, self._settings.maintenance_interval_seconds)
        finally:
            await self.leadership.release()

    def details(self) -> dict[str, object]:
        return {"leader": self.leadership.is_leader, "last_runs": self.last_runs,
                "intervals_seconds": self._intervals}
