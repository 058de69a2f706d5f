"""`sma dashboard` as an operator runs it, against running services; a service that is not there
is shown as down. The percentile arithmetic is checked against hand-computed histograms."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys

import aiohttp
import asyncpg
import pytest

from sma_cli.dashboard_figures import Scrape, bucket_delta, counter_delta, histogram_quantile
from sma_gateway.app import build
from sma_maintenance.app import build as build_maintenance
from sma_maintenance.settings import MaintenanceSettings
from tests.integration.cli.test_jobs_cli import sma
from tests.integration.gateway.harness import RunService, Seeder, create_api_key, gateway_settings

NOWHERE = "http://127.0.0.1:1"


async def test_once_shows_gateway_figures_from_two_scrapes_and_missing_services_as_down(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> None:
    account = await Seeder(db).account("twitch")
    token = await create_api_key(db, ["read"])
    gateway = build(gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix,
                                     api_rate_limit_per_minute=0))
    maintenance = build_maintenance(MaintenanceSettings(database_url=database_url, http_host="127.0.0.1",
                                                        http_port=0))
    async with run_service(gateway) as gw, run_service(maintenance) as mt, aiohttp.ClientSession() as http:
        urls = ["--url", gw, "--scheduler-url", NOWHERE, "--collector-url", NOWHERE, "--maintenance-url", mt]
        run = asyncio.create_task(sma("dashboard", "--once", "--json", "--console-only", "--interval", "2",
                                      "--timeout", "1", *urls))
        sent = 0
        while not run.done():  # steady traffic, about 20 requests a second, until the snapshot is printed
            async with http.get(f"{gw}/api/accounts/{account}/metrics?metric=followers",
                                headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
            sent += 1
            await asyncio.sleep(0.05)
        code, out, err = await run
        assert code == 0, err
        view = json.loads(out)
        assert {name: s["up"] for name, s in view["services"].items()} == {
            "gateway": True, "scheduler": False, "collector": False, "maintenance": True}
        assert view["services"]["collector"]["error"] and view["services"]["gateway"]["version"]
        figures = view["figures"]
        # at most 20 a second were sent (the scrapes themselves are ops routes, not counted)
        assert sent > 20 and 5 <= figures["request_rate_per_second"] <= 21
        assert 0 < figures["request_latency_p50_ms"] <= figures["request_latency_p99_ms"]
        assert figures["error_5xx_ratio"] == 0.0
        assert 0.9 <= figures["cache_hit_ratio"] <= 1.0  # one miss, then hits
        assert figures["maintenance_leader"] is True and figures["maintenance_findings"] >= 0
        assert "consumer_lag_messages" not in figures and "dispatch_lag_p99_seconds" not in figures

        code, out, err = await sma("dashboard", "--once", "--console-only", "--interval", "0.5", "--timeout", "1",
                                   *urls, env={"COLUMNS": "200"})
        assert code == 0, err
        for words in ("gateway requests", "gateway latency p99", "dispatch lag p99", "consumer lag",
                      "rate-limited platforms", "points written", "cache hit ratio", "down"):
            assert words in out, words

    code, out, _ = await sma("dashboard", "--once", "--json", "--interval", "0.2", "--timeout", "1",
                             "--url", NOWHERE, "--scheduler-url", NOWHERE, "--collector-url", NOWHERE,
                             "--maintenance-url", NOWHERE)
    assert code == 1 and not any(s["up"] for s in json.loads(out)["services"].values())
    code, _, err = await sma("dashboard", "--json", "--url", NOWHERE)
    assert code == 2 and "--json needs --once" in err and "Traceback" not in err


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, 0.5: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # the first bucket starts at 0
    assert histogram_quantile(0.99, {1.0: 1.0, math.inf: 10.0}) == 1.0  # above the last finite bound
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.5, {}) is None


def test_rates_come_from_the_difference_between_scrapes_and_survive_a_restart() -> None:
    def scrape(at: float, samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> Scrape:
        return Scrape("http://x", at, samples)

    route = (("route", "/api/jobs"),)
    before = scrape(0, {
        "c_total": {(("p", "a"),): 10.0, (("p", "b"),): 100.0},
        "h_bucket": {(("le", "0.1"), *route): 5.0, (("le", "+Inf"), *route): 5.0},
    })
    after = scrape(2, {
        "c_total": {(("p", "a"),): 16.0, (("p", "b"),): 4.0, (("p", "c"),): 1.0},  # b restarted, c is new
        "h_bucket": {(("le", "0.1"), *route): 5.0, (("le", "+Inf"), *route): 9.0},
    })
    assert counter_delta(before, after, "c_total") == 6 + 4 + 1
    assert counter_delta(before, after, "c_total", p="a") == 6
    assert bucket_delta(before, after, "h") == {0.1: 0.0, math.inf: 4.0}


async def test_live_view_keeps_drawing_until_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMA_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sma_cli", "dashboard", "--interval", "0.3", "--timeout", "0.5",
        "--grafana-url", "http://grafana.invalid", "--url", NOWHERE, "--scheduler-url", NOWHERE,
        "--collector-url", NOWHERE, "--maintenance-url", NOWHERE,
        env={**env, "COLUMNS": "200"}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(3)
    assert proc.returncode is None  # still running: live, not a snapshot
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 130, err
    text = out.decode()
    assert "Grafana: http://grafana.invalid/d/sma-overview" in text  # without --console-only
    assert "gateway requests" in text and "down" in text and "Traceback" not in text + err.decode()
