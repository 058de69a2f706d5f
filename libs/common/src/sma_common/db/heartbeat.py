"""The heartbeat loop: every service instance upserts its row in `service_heartbeats`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from sma_common.db.errors import TRANSIENT_DB_ERRORS
from sma_common.db.pool import DatabasePool
from sma_common.service import sleep_or_stop

log = structlog.get_logger(__name__)

UPSERT_HEARTBEAT = """
INSERT INTO service_heartbeats (service, instance, last_seen, details)
VALUES ($1, $2, now(), $3::jsonb)
ON CONFLICT (service, instance) DO UPDATE SET last_seen = now(), details = EXCLUDED.details
"""


class HeartbeatWriter:
    """Writes a heartbeat every `interval` seconds; failures are logged, never fatal
    (the database check already reports an unreachable database)."""

    def __init__(
        self,
        db: DatabasePool,
        service: str,
        instance: str,
        details: Callable[[], dict[str, object]],
        interval: float = 5.0,
    ) -> None:
        self._db, self._service, self._instance = db, service, instance
        self._details, self._interval = details, interval

    def _safe_details(self) -> dict[str, object]:
        try:
            return self._details()
        except Exception as exc:  # a broken detail provider must not stop the heartbeat
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def beat(self) -> None:
        await self._db.pool.execute(UPSERT_HEARTBEAT, self._service, self._instance, self._safe_details())

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.beat()
            except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("heartbeat.failed", error=repr(exc))
            if await sleep_or_stop(stopping, self._interval):
                return
