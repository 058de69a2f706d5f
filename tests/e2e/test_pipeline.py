"""The whole pipeline in one test: a job created through the gateway (its handle resolved
through the simulator) is dispatched by the scheduler over Kafka, fetched by the collector,
written to Postgres, and read back through the gateway, the second time from Redis."""

import asyncio
from contextlib import AsyncExitStack

import aiohttp
import asyncpg

from sma_collector.app import build as build_collector
from sma_collector.settings import CollectorSettings
from sma_common.api_keys import create_key
from sma_gateway.app import build as build_gateway
from sma_gateway.settings import GatewaySettings
from sma_maintenance.app import build as build_maintenance
from sma_maintenance.settings import MaintenanceSettings
from sma_scheduler.app import build as build_scheduler
from sma_scheduler.settings import SchedulerSettings
from tests.fixtures.servers import KafkaNames
from tests.fixtures.services import running
from tests.fixtures.simulator import SimServer


async def eventually(probe, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


async def _at_least(probe, n: int) -> bool:  # type: ignore[no-untyped-def]
    return len(await probe()) >= n


async def test_job_created_through_the_api_yields_points_read_back_through_the_cache(
    db: asyncpg.Pool, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames,
    sim_server: SimServer,
) -> None:
    common = {"database_url": database_url, "http_host": "127.0.0.1", "http_port": 0}
    bus = {"kafka_bootstrap_servers": kafka.bootstrap, "kafka_commands_topic": kafka.commands_topic,
           "kafka_dlq_topic": kafka.dlq_topic, "kafka_consumer_group": kafka.group, "kafka_session_timeout_ms": 3000}
    async with db.acquire() as conn:
        _, token = await create_key(conn, "e2e", ["write"])
    headers = {"Authorization": f"Bearer {token}"}

    async with AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(running(build_gateway(GatewaySettings(
            **common, redis_url=redis_url, redis_key_prefix=redis_prefix, **sim_server.platform_env()))))
        await stack.enter_async_context(running(build_maintenance(MaintenanceSettings(**common))))
        await stack.enter_async_context(running(build_scheduler(SchedulerSettings(
            **common, **bus, scheduler_tick_seconds=0.2))))
        await stack.enter_async_context(running(build_collector(CollectorSettings(
            **common, **bus, redis_url=redis_url, redis_key_prefix=redis_prefix, **sim_server.platform_env()))))
        http = await stack.enter_async_context(aiohttp.ClientSession(headers=headers))

        body = {"platform": "twitch", "account": "https://www.twitch.tv/twitchdev", "interval_minutes": 1}
        async with http.post(f"{gateway}/api/jobs", json=body) as resp:
            assert resp.status == 201, await resp.text()
            job = await resp.json()
        assert job["handle"] == "twitchdev" and job["external_id"] == "141981764"
        # A new job's first run is on its own slot within the interval; run it now instead.
        async with http.post(f"{gateway}/api/jobs/{job['id']}/run") as resp:
            assert resp.status == 200

        async def executions() -> list[dict[str, object]]:
            async with http.get(f"{gateway}/api/jobs/{job['id']}/executions") as resp:
                assert resp.status == 200
                return await resp.json()  # type: ignore[no-any-return]

        runs = await eventually(executions)
        assert runs[0]["status"] == "success" and runs[0]["points_written"] >= 2

        url = f"{gateway}/api/accounts/{job['account_id']}/metrics?metric=followers"
        async with http.get(url) as first:
            assert first.status == 200 and first.headers["X-Cache"] == "miss"
            points = await first.json()
        async with http.get(url) as second:
            assert second.status == 200 and second.headers["X-Cache"] == "local"
            assert await second.json() == points
        assert len(points) >= 1 and points[0]["value"] > 0

        async with http.get(f"{gateway}/metrics") as resp:
            exposition = await resp.text()
        assert 'sma_gateway_cache_requests_total{result="local"} 1.0' in exposition
        assert 'sma_gateway_cache_requests_total{result="miss"} 1.0' in exposition

        # A new point invalidates the cached series at once (not after the TTL).
        async with http.post(f"{gateway}/api/jobs/{job['id']}/run") as resp:
            assert resp.status == 200
        await eventually(lambda: _at_least(executions, 2))

        async def refreshed() -> bool:
            # The collector bumps the cache version just after its commit, so poll briefly.
            async with http.get(url) as third:
                return third.headers["X-Cache"] == "miss" and len(await third.json()) == len(points) + 1

        await eventually(refreshed, timeout=5)

        async with http.get(f"{gateway}/health/ready") as resp:
            ready = await resp.json()
        assert ready["status"] == "ok"
        assert ready["checks"]["scheduler"]["status"] == "ok"
