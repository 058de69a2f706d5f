"""The signals the database alerts read, from a real service against a real Postgres:
`sma_health_check_ok{check="database"}` (refreshed on each scrape) and the pool gauges."""

import asyncio

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from sma_maintenance.app import build
from sma_maintenance.settings import MaintenanceSettings
from tests.fixtures.servers import Servers
from tests.fixtures.services import running


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_database_check_and_pool_show_on_the_metrics_route(servers: Servers, database_url: str) -> None:
    settings = MaintenanceSettings(database_url=database_url, http_host="127.0.0.1", http_port=0,
                                   database_pool_max_size=3, maintenance_interval_seconds=3600)
    name = database_url.rpartition("/")[2]
    admin = await asyncpg.connect(servers.postgres_admin_url)
    try:
        async with running(build(settings)) as url:
            samples = await scrape(url)
            assert samples[("sma_health_check_ok", (("check", "database"),))] == 1
            assert samples[("sma_db_pool_max_connections", ())] == 3
            in_use = samples[("sma_db_pool_connections", (("state", "in_use"),))]
            idle = samples[("sma_db_pool_connections", (("state", "idle"),))]
            assert 1 <= in_use + idle <= 3
            # The database refuses connections: the next scrape says so.
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            await asyncio.sleep(0.2)
            samples = await scrape(url)
            assert samples[("sma_health_check_ok", (("check", "database"),))] == 0
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            samples = await scrape(url)
            assert samples[("sma_health_check_ok", (("check", "database"),))] == 1
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
