"""Which database failures are worth retrying, decided once for every service.

Transient: the server or the connection went away or is overloaded (connection errors, admin
shutdown, too many connections, a cancelled statement, a serialization failure or deadlock, a
lock timeout), the connection landed on a read-only standby (failover), a cached statement went
stale after a schema change, or the client timed out. Everything else (data errors, constraint violations, missing
partitions, syntax) is a permanent fault of the request itself: retrying it would fail the
same way forever.
"""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the pool or the connection closed under us
    pg.OperatorInterventionError,  # admin shutdown, cannot connect now, statement timeout
    pg.InsufficientResourcesError,  # too many connections, disk full
    pg.TransactionRollbackError,  # serialization failure, deadlock
    pg.LockNotAvailableError,  # lock_timeout
    pg.ReadOnlySQLTransactionError,  # a failover left us on a standby
    pg.InvalidCachedStatementError,  # a migration changed a table under a prepared statement
    OSError,
    TimeoutError,
)
