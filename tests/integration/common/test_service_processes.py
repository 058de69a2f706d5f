"""Each service as a real process: ready, valid health JSON and Prometheus text, and a clean
exit 0 on SIGTERM within its drain deadline."""

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sma_devstack import free_port
from tests.fixtures.servers import KafkaNames, Servers
from tests.fixtures.services import wait_ready_status

SERVICES = ["sma_scheduler", "sma_collector", "sma_gateway", "sma_maintenance"]


@pytest.mark.parametrize("module", SERVICES)
async def test_service_process_serves_health_and_stops_cleanly_on_sigterm(
    module: str, servers: Servers, database_url: str, redis_url: str, redis_prefix: str, kafka: KafkaNames
) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMA_")},
        "SMA_DATABASE_URL": database_url, "SMA_REDIS_URL": redis_url, "SMA_REDIS_KEY_PREFIX": redis_prefix,
        "SMA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "SMA_KAFKA_COMMANDS_TOPIC": kafka.commands_topic,
        "SMA_KAFKA_DLQ_TOPIC": kafka.dlq_topic, "SMA_KAFKA_CONSUMER_GROUP": kafka.group,
        "SMA_HTTP_HOST": "127.0.0.1", "SMA_HTTP_PORT": str(port), "SMA_LOG_FORMAT": "json",
        "SMA_DRAIN_TIMEOUT_SECONDS": "10", "SMA_KAFKA_SESSION_TIMEOUT_MS": "3000",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    stderr_reader = asyncio.create_task(proc.stderr.read())  # type: ignore[union-attr]
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready_status(base, timeout=60)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/health/ready") as resp:
                ready = await resp.json()
            async with http.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                families = {f.name for f in text_string_to_metric_families(await resp.text())}
        assert ready["status"] in ("ok", "degraded")
        for check in ready["checks"].values():
            assert set(check) == {"status", "latency_ms", "detail"}
            assert check["status"] in ("ok", "degraded", "fail")
        assert "sma_build_info" in families

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = await stderr_reader
    assert code == 0, stderr.decode()[-3000:]
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "service.ready" in events and "service.stopped" in events
    assert all(line.get("level") != "error" for line in lines), [ln for ln in lines if ln.get("level") == "error"]
