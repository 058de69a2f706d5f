"""Single active instance: a session-level Postgres advisory lock held on a connection of its own.

The lock lives exactly as long as that connection: if the database restarts or the connection
drops, leadership is lost (and another instance may take it); the next `try_acquire` starts
over with a fresh connection.
"""

from __future__ import annotations

import asyncpg
import structlog

from sma_common.db import TRANSIENT_DB_ERRORS, DatabasePool

log = structlog.get_logger(__name__)

# A fixed 63-bit key that names "the maintenance leader" ("SMAMAINT").
LEADER_LOCK_KEY = 0x534D_414D_4149_4E54 & 0x7FFF_FFFF_FFFF_FFFF


class Leadership:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db
        self._conn: asyncpg.Connection | None = None

    @property
    def is_leader(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def lost(self) -> bool:
        """The lock's connection died under us (database restart, network cut)."""
        return self._conn is not None and self._conn.is_closed()

    async def try_acquire(self) -> bool:
        """True while this instance holds the lock. Re-checked on every call: a lost connection
        loses the lock, and a dead leader's lock is free for this instance to take."""
        if self.is_leader:
            return True
        if self.lost:
            log.warning("maintenance.leadership_lost")
        await self._drop()
        conn = await self._db.connect()
        try:
            acquired = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY))
        except BaseException:
            await conn.close()
            raise
        if not acquired:
            await conn.close()
            return False
        self._conn = conn
        log.info("maintenance.leadership_acquired")
        return True

    async def release(self) -> None:
        """Give the lock up (closing the connection releases it even if the unlock fails)."""
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", LEADER_LOCK_KEY)
        except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
            log.warning("maintenance.unlock_failed", error=repr(exc))
        finally:
            await conn.close()
