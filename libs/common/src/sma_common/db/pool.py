"""The asyncpg pool as a service resource: bounded, timed out, named, retried at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import orjson
from prometheus_client.core import GaugeMetricFamily

from sma_common.health import Check, CheckFailed
from sma_common.retry import RetryPolicy
from sma_common.settings import DatabaseSettings

_CONNECT_ERRORS = (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError, TimeoutError)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                                  schema="pg_catalog")


def asyncpg_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (`postgresql+asyncpg://`) as well as plain ones."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


class DatabasePool:
    """Owns one asyncpg pool. `pool` is usable between `start()` and `stop()`."""

    name = "postgres"

    def __init__(self, settings: DatabaseSettings, application_name: str) -> None:
        self._settings = settings
        self._application_name = application_name
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database pool is not started")
        return self._pool

    async def start(self) -> None:
        s = self._settings
        policy = RetryPolicy(on=_CONNECT_ERRORS, max_attempts=1000, max_elapsed=s.database_connect_timeout_seconds,
                             base_delay=0.2, max_delay=3.0)
        self._pool = await policy.call(
            lambda: asyncpg.create_pool(
                asyncpg_dsn(s.database_url.get_secret_value()),
                min_size=s.database_pool_min_size,
                max_size=s.database_pool_max_size,
                command_timeout=s.database_statement_timeout_ms / 1000 + 5,
                timeout=10,
                init=_init_connection,
                server_settings={
                    "application_name": self._application_name,
                    "statement_timeout": str(s.database_statement_timeout_ms),
                    "idle_in_transaction_session_timeout": "60000",
                },
            ),
            what="postgres.connect",
        )

    async def connect(self) -> asyncpg.Connection:
        """A connection of its own, outside the pool (for session state such as advisory locks,
        which must not leak to the pool's other users). The caller closes it."""
        s = self._settings
        return await asyncpg.connect(
            asyncpg_dsn(s.database_url.get_secret_value()), timeout=10,
            server_settings={"application_name": self._application_name},
        )

    async def stop(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout=5)
            except TimeoutError:
                self._pool.terminate()
            self._pool = None

    def check(self) -> Check:
        async def probe() -> str | None:
            try:
                await self.pool.fetchval("SELECT 1", timeout=2)
            except RuntimeError as exc:
                raise CheckFailed(str(exc)) from exc
            except (*_CONNECT_ERRORS, asyncpg.PostgresError) as exc:
                raise CheckFailed(f"{type(exc).__name__}: {exc}") from exc
            return None

        return Check("database", probe, severity="fail")

    def details(self) -> dict[str, object]:
        if self._pool is None:
            return {"started": False}
        return {
            "started": True,
            "size": self._pool.get_size(),
            "idle": self._pool.get_idle_size(),
            "max_size": self._pool.get_max_size(),
        }

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Pool occupancy at scrape time (a Prometheus collector; `Service` registers it)."""
        connections = GaugeMetricFamily("sma_db_pool_connections", "Connections open in the database pool, by state.",
                                        labels=["state"])
        limit = GaugeMetricFamily("sma_db_pool_max_connections", "Most connections the database pool may open.")
        if self._pool is not None:
            size, idle = self._pool.get_size(), self._pool.get_idle_size()
            connections.add_metric(["in_use"], size - idle)
            connections.add_metric(["idle"], idle)
            limit.add_metric([], self._pool.get_max_size())
        yield connections
        yield limit
