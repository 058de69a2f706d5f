"""The gateway's own readiness check: whether the scheduler is alive, from its heartbeats.

Severity `info`: the gateway serves without a scheduler, so this is reported, never fatal.
"""

from __future__ import annotations

from sma_common.db import DatabasePool
from sma_common.health import Check, CheckFailed
from sma_gateway.repositories.heartbeats import newest_heartbeat_age_seconds

SCHEDULER_SERVICE = "scheduler"


def scheduler_check(db: DatabasePool, max_age_seconds: float) -> Check:
    async def probe() -> str | None:
        age = await newest_heartbeat_age_seconds(db.pool, SCHEDULER_SERVICE)
        if age is None:
            raise CheckFailed("no scheduler heartbeat recorded")
        if age > max_age_seconds:
            raise CheckFailed(f"last scheduler heartbeat {age:.0f}s ago (stale after {max_age_seconds:g}s)")
        return f"last scheduler heartbeat {age:.1f}s ago"

    return Check("scheduler", probe, severity="info")
