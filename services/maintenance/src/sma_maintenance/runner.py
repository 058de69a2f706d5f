"""The maintenance loop: while leader, run the due operations and record how they went."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from datetime import UTC, datetime

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sma_common.db import TRANSIENT_DB_ERRORS, DatabasePool
from sma_common.service import sleep_or_stop
from sma_maintenance.leadership import Leadership
from sma_maintenance.operations import ensure_partitions
from sma_maintenance.settings import MaintenanceSettings

log = structlog.get_logger(__name__)

# A failed run is recorded and tried again next interval; maintenance never stops over it.
TRANSIENT_ERRORS = (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError)


class Runner:
    def __init__(self, settings: MaintenanceSettings, db: DatabasePool, registry: CollectorRegistry) -> None:
        self._settings, self._db = settings, db
        self.leadership = Leadership(db)
        self.last_runs: dict[str, dict[str, object]] = {}
        self._runs = Counter("sma_maintenance_task_runs_total", "Maintenance task runs, by task and status.",
                             ["task", "status"], registry=registry)
        self._duration = Histogram("sma_maintenance_task_duration_seconds", "Duration of maintenance tasks.",
                                   ["task"], buckets=(0.01, 0.1, 0.5, 1, 5, 30, 120, 600, 3600), registry=registry)
        self._partitions = Gauge("sma_maintenance_partitions", "Partitions per partitioned table.", ["table"],
                                 registry=registry)
        self._leader = Gauge("sma_maintenance_leader", "1 while this instance is the active one.", registry=registry)

    async def run_partitions(self) -> None:
        started = time.perf_counter()
        status = "error"
        try:
            async with self._db.pool.acquire() as conn:
                report = await ensure_partitions(conn, self._settings.maintenance_partition_days_ahead)
            status = "success"
            for table in report.tables:
                self._partitions.labels(table.table).set(table.partitions)
            self.last_runs["partitions"] = {
                "at": datetime.now(UTC).isoformat(), "status": status,
                "tables": [{**asdict(t), "oldest": str(t.oldest), "newest": str(t.newest)} for t in report.tables],
            }
            log.info("maintenance.partitions", created=report.created)
        finally:
            self._runs.labels("partitions", status).inc()
            self._duration.labels("partitions").observe(time.perf_counter() - started)

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            while not stopping.is_set():
                try:
                    leader = await self.leadership.try_acquire()
                    self._leader.set(1 if leader else 0)
                    if leader:
                        await self.run_partitions()
                except TRANSIENT_ERRORS as exc:
                    self._leader.set(1 if self.leadership.is_leader else 0)
                    log.warning("maintenance.run_failed", error=repr(exc))
                    self.last_runs["partitions"] = {"at": datetime.now(UTC).isoformat(), "status": "error",
                                                    "error": repr(exc)}
                await sleep_or_stop(stopping, self._settings.maintenance_interval_seconds)
        finally:
            await self.leadership.release()

    def details(self) -> dict[str, object]:
        return {"leader": self.leadership.is_leader, "last_runs": self.last_runs}
