"""One run of an operation at a time, across instances and the CLI: a session advisory lock per
operation, taken on the connection that does the work and released when it is done (or when
that connection dies)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

# The first key of the two-key advisory lock space: "SMA" (the second is the operation's crc32).
LOCK_CLASS = 0x534D41


class OperationBusy(Exception):
    """Another session is running the same operation right now."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"another session is running the {operation} operation")
        self.operation = operation


def operation_key(operation: str) -> int:
    return zlib.crc32(operation.encode()) & 0x7FFF_FFFF


@asynccontextmanager
async def operation_lock(conn: asyncpg.Connection, operation: str) -> AsyncIterator[None]:
    """Hold the operation's lock for the block; raise `OperationBusy` at once if it is taken."""
    key = operation_key(operation)
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, key):
        raise OperationBusy(operation)
    try:
        yield
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, key)


DEFAULT_LOCK_TIMEOUT_MS = 5000


async def limit_lock_wait(conn: asyncpg.Connection, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> None:
    """Inside a transaction: DDL gives up after `lock_timeout_ms` instead of queueing behind (and
    so blocking) the collectors' writes for long. A timed-out run is retried next interval."""
    await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'")
