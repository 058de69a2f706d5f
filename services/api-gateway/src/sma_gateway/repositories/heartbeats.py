"""SQL for other services' heartbeats, as the gateway reports them."""

from __future__ import annotations

import asyncpg


async def newest_heartbeat_age_seconds(pool: asyncpg.Pool, service: str) -> float | None:
    """Seconds since the newest heartbeat of any instance of `service` (database clock), or None."""
    age = await pool.fetchval(
        "SELECT extract(epoch FROM now() - max(last_seen)) FROM service_heartbeats WHERE service = $1",
        service,
    )
    return None if age is None else float(age)
