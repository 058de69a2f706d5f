"""Single active instance: a session-level Postgres advisory lock held on its own connection."""

from __future__ import annotations

import asyncpg

from sma_common.db import DatabasePool

# An arbitrary, fixed 64-bit key that names "the maintenance leader".
LEADER_LOCK_KEY = 0x534D_414D_4149_4E54 & 0x7FFF_FFFF_FFFF_FFFF


class Leadership:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db
        self._conn: asyncpg.Connection | None = None

    @property
    def is_leader(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def try_acquire(self) -> bool:
        """True while this instance holds the lock (re-checked each call: a dropped connection
        loses it, and another instance may take over)."""
        if self.is_leader:
            return True
        conn = await self._db.pool.acquire()
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY):
                self._conn = conn
                return True
        except BaseException:
            await self._db.pool.release(conn)
            raise
        await self._db.pool.release(conn)
        return False

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if not conn.is_closed():
                    await conn.execute("SELECT pg_advisory_unlock($1)", LEADER_LOCK_KEY)
            finally:
                await self._db.pool.release(conn)
