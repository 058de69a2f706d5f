"""Gateway test harness: the running gateway as tests see it, API keys per scope, test settings,
and a seeder writing accounts, jobs, executions and points by SQL (no platform needed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import orjson
from multidict import CIMultiDict

from sma_common.api_keys import create_key
from sma_common.platforms import METRIC_IDS
from sma_common.service import Service
from sma_gateway.settings import GatewaySettings
from tests.fixtures.data import insert_account, insert_job

RunService = Callable[[Service], AbstractAsyncContextManager[str]]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


@dataclass
class Gateway:
    url: str
    http: aiohttp.ClientSession
    service: Service
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, scope: str = "write") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    async def call(self, method: str, path: str, *, scope: str | None = "write", **kwargs: Any) -> Reply:
        """One request; `scope` picks the API key to send (None sends none)."""
        headers = {**(self.auth(scope) if scope else {}), **kwargs.pop("headers", {})}
        async with self.http.request(method, f"{self.url}{path}", headers=headers, **kwargs) as resp:
            return Reply(resp.status, resp.headers.copy(), await resp.read())

    def cache_count(self, result: str) -> float:
        value = self.service.registry.get_sample_value("sma_gateway_cache_requests_total", {"result": result})
        return value or 0.0

    def requests_counted(self, route: str, method: str, status: int) -> float:
        labels = {"route": route, "method": method, "status": str(status)}
        return self.service.registry.get_sample_value("sma_gateway_http_requests_total", labels) or 0.0


async def create_api_key(db: asyncpg.Pool, scopes: list[str], name: str = "test") -> str:
    async with db.acquire() as conn:
        _, token = await create_key(conn, name, scopes)
    return token


def gateway_settings(database_url: str, redis_url: str, **overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "database_url": database_url, "redis_url": redis_url, "http_host": "127.0.0.1", "http_port": 0,
        "instance": "gateway-test", "drain_timeout_seconds": 5.0, "database_connect_timeout_seconds": 5.0,
        "twitch_client_id": None, "twitch_client_secret": None,
    }
    values.update(overrides)
    return GatewaySettings(**values)  # type: ignore[arg-type]


class Seeder:
    """Writes rows the way the scheduler and collectors would, so tests need no platform."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db

    async def account(self, platform: str = "twitch", handle: str | None = None) -> int:
        handle = handle or f"user_{uuid.uuid4().hex[:8]}"
        return await insert_account(self.db, platform, f"ext-{handle}", handle)

    async def job(self, platform: str = "twitch", *, status: str = "active", interval: int = 15,
                  account_id: int | None = None, next_run_in: timedelta = timedelta(minutes=10)) -> uuid.UUID:
        account_id = account_id or await self.account(platform)
        return await insert_job(
            self.db, account_id, platform, interval_minutes=interval, status=status,
            next_run_at=datetime.now(UTC) + next_run_in,
        )

    async def execution(self, job_id: uuid.UUID, scheduled_for: datetime, status: str = "success") -> None:
        account_id, platform = await self.db.fetchrow(
            "SELECT account_id, platform FROM monitoring_jobs WHERE id = $1", job_id
        )
        await self.db.execute(
            "INSERT INTO job_executions (job_id, account_id, platform, command_id, scheduled_for, started_at, "
            "finished_at, status, error, api_calls, points_written, collector_instance) "
            "VALUES ($1, $2, $3, 'cmd', $4::timestamptz, $4, $4 + interval '1 second', $5, $6, 1, 2, 'collector-1')",
            job_id, account_id, platform, scheduled_for, status, None if status == "success" else status,
        )

    async def points(self, account_id: int, metric: str, values: list[tuple[datetime, float]]) -> None:
        await self.db.executemany(
            "INSERT INTO metric_points (account_id, metric, ts, value) VALUES ($1, $2, $3, $4)",
            [(account_id, METRIC_IDS[metric], ts, value) for ts, value in values],
        )


async def subscribed(gateway: Gateway) -> bool:
    details = (await gateway.call("GET", "/health/detailed", scope=None)).json()
    return bool(details["cache_coherence"]["subscribed"])


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
