"""Every dashboard query against the real thing: a real Prometheus (the Debian package) scrapes
the running stack (`make up`'s devstack on free ports) every second with our alert rules loaded;
each Prometheus panel query must be valid and return data, every rule must evaluate ("ok"), and
each SQL panel of the analytics dashboard must run against the stack's PostgreSQL and return rows."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml

from sma_devstack import free_port
from sma_maintenance.operations import OperationBusy, run_operation
from tests.deploy.dashboards import (
    DASHBOARDS,
    PROMETHEUS_DASHBOARDS,
    RULES,
    prometheus_targets,
    sql_targets,
    substitute_promql,
    substitute_sql,
)
from tests.fixtures.tools import require_tool

SERVICES = ("gateway", "scheduler", "collector", "maintenance")
PLATFORM = "twitch"  # demo accounts that the simulator serves
SCRAPE = "1s"


def prometheus_config(ports: dict[str, int]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "rule_files": [str(p) for p in RULES],
        "scrape_configs": [{"job_name": f"sma-{name}", "static_configs": [{"targets": [f"127.0.0.1:{ports[name]}"]}]}
                           for name in SERVICES],
    }


async def start_prometheus(tmp: Path, ports: dict[str, int]) -> tuple[asyncio.subprocess.Process, str]:
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ports)))
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        require_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        stdout=(tmp / "prometheus.log").open("wb"), stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if proc.returncode is not None:
                raise AssertionError(f"prometheus exited: {(tmp / 'prometheus.log').read_text()}")
            try:
                async with http.get(f"{url}/-/ready") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"prometheus not ready: {(tmp / 'prometheus.log').read_text()}")


async def query(http: aiohttp.ClientSession, url: str, expr: str) -> dict[str, Any]:
    async with http.post(f"{url}/api/v1/query", data={"query": expr}) as resp:
        body: dict[str, Any] = await resp.json()
    return body


async def drive_traffic(env: dict[str, str], seconds: float) -> list[dict[str, Any]]:
    """Runs every demo job now, then reads through the API (cache misses, then hits, a 404), at a
    pace under the API key's rate limit."""
    base, headers = env["SMA_GATEWAY_URL"], {"Authorization": f"Bearer {env['SMA_API_TOKEN']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{base}/api/jobs?limit=100") as resp:
            assert resp.status == 200, await resp.text()
            jobs: list[dict[str, Any]] = await resp.json()
        assert jobs, "the stack has no demo jobs"
        for job in jobs:
            async with http.post(f"{base}/api/jobs/{job['id']}/run") as resp:
                assert resp.status < 300, await resp.text()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for job in jobs[:2]:
                async with http.get(f"{base}/api/accounts/{job['account_id']}/metrics?metric=followers") as resp:
                    await resp.read()
            async with http.get(f"{base}/api/jobs/00000000-0000-0000-0000-000000000000") as resp:
                assert resp.status == 404
            await asyncio.sleep(1.0)
    return jobs


async def wait_for(http: aiohttp.ClientSession, url: str, expr: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await query(http, url, expr)
        if body.get("status") == "success" and body["data"]["result"]:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no data for {expr} within {timeout}s")


async def test_every_panel_query_returns_data_and_every_rule_evaluates(stack: Any, tmp_path: Path) -> None:
    require_tool("prometheus")
    env, ports, _ = stack
    proc, url = await start_prometheus(tmp_path, ports)
    try:
        async with aiohttp.ClientSession() as http:
            traffic = asyncio.create_task(drive_traffic(env, 12))
            # The pipeline end to end (points written for the chosen platform), then a few
            # scrapes more, so every rate window holds at least two samples.
            await wait_for(http, url, f'sma_collector_points_written_total{{platform="{PLATFORM}"}}', 60)
            await traffic
            await asyncio.sleep(3)
            failures = []
            for dashboard, title, expr in prometheus_targets(PROMETHEUS_DASHBOARDS):
                resolved = substitute_promql(expr, platform=PLATFORM)
                body = await query(http, url, resolved)
                if body.get("status") != "success":
                    failures.append(f"{dashboard} / {title}: {resolved}: {body.get('error')}")
                elif not body["data"]["result"]:
                    failures.append(f"{dashboard} / {title}: no data: {resolved}")
            async with http.get(f"{url}/api/v1/rules") as resp:
                groups = (await resp.json())["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) >= 15
        failures += [f"rule {r['name']}: health {r['health']} {r.get('lastError', '')}"
                     for r in rules if r["health"] != "ok"]
        assert not failures, "\n".join(failures)
    finally:
        proc.terminate()
        await proc.wait()
    await check_sql_panels(env["SMA_DATABASE_URL"])


async def check_sql_panels(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(50):  # the service may be rolling up at this moment
            try:
                await run_operation(conn, "rollups")
                break
            except OperationBusy:
                await asyncio.sleep(0.2)
        row = await conn.fetchrow(
            "SELECT a.platform, m.name, array_agg(DISTINCT a.id) AS ids FROM metric_rollups_hourly r "
            "JOIN accounts a ON a.id = r.account_id JOIN metrics m ON m.id = r.metric "
            "WHERE a.platform = $1 GROUP BY 1, 2 ORDER BY 2 LIMIT 1", PLATFORM)
        assert row is not None, "no rolled-up points for the demo accounts"
        variables = {"platform": row["platform"], "metric": row["name"],
                     "account": ",".join(f"'{i}'" for i in row["ids"])}  # Grafana quotes multi-value vars
        failures = []
        for dashboard, title, raw in sql_targets(DASHBOARDS["sma-analytics.json"]):
            statement = substitute_sql(raw, variables)
            try:
                rows = await conn.fetch(statement)
            except asyncpg.PostgresError as exc:
                failures.append(f"{dashboard} / {title}: {exc}\n{statement}")
                continue
            if not rows:
                failures.append(f"{dashboard} / {title}: no rows\n{statement}")
        for variable in json.loads(DASHBOARDS["sma-analytics.json"].read_text())["templating"]["list"]:
            if variable["type"] == "query":
                assert await conn.fetch(substitute_sql(variable["query"], variables)), variable["name"]
        assert not failures, "\n".join(failures)
    finally:
        await conn.close()
