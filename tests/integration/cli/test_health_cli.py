"""`sma health`: one table of every service's readiness and details, and an exit code scripts can
trust (0 serving, 1 failing or unreachable; `--strict` also fails on degraded)."""

from __future__ import annotations

import json

import asyncpg

from sma_gateway.app import build
from sma_maintenance.app import build as build_maintenance
from sma_maintenance.settings import MaintenanceSettings
from tests.integration.cli.test_jobs_cli import sma
from tests.integration.gateway.harness import RunService, gateway_settings

NOWHERE = "http://127.0.0.1:1"


async def test_one_table_for_every_service_from_the_environment_and_urls(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> None:
    gateway = build(gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix))
    maintenance = build_maintenance(MaintenanceSettings(database_url=database_url, http_host="127.0.0.1",
                                                        http_port=0))
    async with run_service(gateway) as gw, run_service(maintenance) as mt:
        env = {"SMA_GATEWAY_URL": gw, "SMA_MAINTENANCE_URL": mt, "COLUMNS": "250"}
        code, out, err = await sma("health", env=env)
        assert code == 0, err
        for words in ("api-gateway", "maintenance", gw, mt, "database ok", "redis ok", "leader", "pool",
                      "0.1.0"):
            assert words in out, words

        # --url adds to the environment's services (no repeats); --only keeps just the --urls
        code, out, _ = await sma("health", "--url", gw, "--url", NOWHERE, "--json", "--timeout", "1", env=env)
        results = json.loads(out)
        assert code == 1 and [r["url"] for r in results] == [gw, NOWHERE, mt]
        assert [r["status"] for r in results] == ["ok", "unreachable", "ok"]
        assert results[0]["service"] == "api-gateway" and "uptime_seconds" in results[0]
        assert results[2]["maintenance"]["leader"] is True
        code, out, _ = await sma("health", "--only", "--url", mt, "--json", env=env)
        assert code == 0 and [r["service"] for r in json.loads(out)] == ["maintenance"]
        code, out, _ = await sma("health", "--url", NOWHERE, "--timeout", "1", env=env)
        assert code == 1 and "unreachable" in out and "Traceback" not in out


async def test_degraded_serves_but_strict_says_no(
    database_url: str, redis_prefix: str, run_service: RunService
) -> None:
    # Redis unreachable: the gateway serves from Postgres and reports degraded.
    gateway = build(gateway_settings(database_url, "redis://127.0.0.1:1/0", redis_key_prefix=redis_prefix,
                                     redis_socket_timeout_seconds=0.25))
    async with run_service(gateway) as gw:
        code, out, err = await sma("health", "--only", "--url", gw, env={"COLUMNS": "250"})
        assert code == 0, err
        assert "degraded" in out and "redis degraded" in out and "Redis skipped" in out, out
        code, _, _ = await sma("health", "--only", "--url", gw, "--strict")
        assert code == 1
