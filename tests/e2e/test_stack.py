"""`make up` / `make down` as a user runs them (python -m sma_devstack, on free ports): the
README's tour works, a demo account gets points within 90 s, every service's health and
metrics follow the contract, client mistakes are 4xx problems, and `down` leaves nothing."""

import asyncio
import json
import os
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from sma_devstack import port_is_free
from tests.fixtures.stack import alive, devstack, stack_env


async def test_up_tour_and_down(stack) -> None:  # type: ignore[no-untyped-def]
    env, _, run_dir = stack
    gw, token = env["SMA_GATEWAY_URL"], env["SMA_API_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        # curl -s $SMA_GATEWAY_URL/health/ready | jq '.checks.scheduler'
        async with http.get(f"{gw}/health/ready") as resp:
            assert (await resp.json())["checks"]["scheduler"]["status"] == "ok"
        # curl -s $SMA_GATEWAY_URL/api/jobs?platform=twitch -H ... | jq -r '.[].id'
        async with http.get(f"{gw}/api/jobs?platform=twitch", headers=auth) as resp:
            jobs = await resp.json()
        assert len(jobs) == 3 and {j["platform"] for j in jobs} == {"twitch"}
        job_id, account_id = jobs[0]["id"], jobs[0]["account_id"]
        # curl -X PUT .../api/jobs/ID -d '{"interval_minutes": 120}'  (curl's default form content type)
        form = {**auth, "Content-Type": "application/x-www-form-urlencoded"}
        async with http.put(f"{gw}/api/jobs/{job_id}", headers=form, data='{"interval_minutes": 120}') as resp:
            assert resp.status == 200 and (await resp.json())["interval_minutes"] == 120
        async with http.post(f"{gw}/api/jobs/{job_id}/pause", headers=auth) as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "paused"
        async with http.post(f"{gw}/api/jobs/{job_id}/resume", headers=auth) as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "active"

        # Within 90 seconds of `up` returning, a demo account has a followers point (another
        # one: the job just re-timed to 120 minutes sits on its slot within that interval).
        job_id, account_id = jobs[1]["id"], jobs[1]["account_id"]
        deadline = asyncio.get_running_loop().time() + 90
        while True:
            async with http.get(f"{gw}/api/accounts/{account_id}/metrics?metric=followers", headers=auth) as resp:
                assert resp.status == 200
                points = await resp.json()
            if points:
                break
            assert asyncio.get_running_loop().time() < deadline, "no point within 90 s"
            await asyncio.sleep(1)
        async with http.get(f"{gw}/api/jobs/{job_id}/executions", headers=auth) as resp:
            assert (await resp.json())[0]["status"] == "success"

        # Client mistakes: problem+json 4xx, never a 500.
        async with http.get(f"{gw}/api/jobs") as resp:
            assert resp.status == 401 and resp.content_type == "application/problem+json"
        async with http.get(f"{gw}/api/jobs/not-a-job", headers=auth) as resp:
            assert resp.status == 404 and resp.content_type == "application/problem+json"
        async with http.put(f"{gw}/api/jobs/{job_id}", headers=auth, json={"interval_minutes": 0}) as resp:
            assert resp.status == 422 and "interval_minutes" in await resp.text()

        for name in ("GATEWAY", "SCHEDULER", "COLLECTOR", "MAINTENANCE", "SIMULATOR"):
            base = env[f"SMA_{name}_URL"]
            async with http.get(f"{base}/health/ready") as resp:
                ready = await resp.json()
                assert resp.status == 200 and ready["status"] in ("ok", "degraded") and "checks" in ready
            async with http.get(f"{base}/metrics") as resp:
                assert any(f.name == "sma_build_info" for f in text_string_to_metric_families(await resp.text()))
    assert set(env) == {
        "SMA_GATEWAY_URL", "SMA_API_TOKEN", "SMA_SCHEDULER_URL", "SMA_COLLECTOR_URL", "SMA_MAINTENANCE_URL",
        "SMA_SIMULATOR_URL", "SMA_DATABASE_URL", "SMA_REDIS_URL", "SMA_KAFKA_BOOTSTRAP_SERVERS",
    }
    # The services log JSON and never a secret: not the admin key, not a platform credential.
    secrets = [token, "sma-demo-secret"]
    for name in ("gateway", "scheduler", "collector", "maintenance", "simulator"):
        log = (run_dir / "logs" / f"{name}.log").read_text()
        assert log.strip(), name
        assert not any(secret in log for secret in secrets), name
        assert all(json.loads(line)["service"] for line in log.splitlines() if line.startswith("{"))


async def test_down_cleans_up_after_a_killed_supervisor(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env, ports = stack_env(run_dir)
    code, out = await devstack("up", env, timeout=240)
    assert code == 0, out
    children = [c["pid"] for c in json.loads((run_dir / "children.json").read_text())]
    os.kill(json.loads((run_dir / "stack.pid").read_text())["pid"], 9)  # dies without cleaning up

    code, out = await devstack("down", env, timeout=120)
    assert code == 0, out
    deadline = asyncio.get_running_loop().time() + 10
    while [pid for pid in children if alive(pid)] or not all(port_is_free(p) for p in ports.values()):
        assert asyncio.get_running_loop().time() < deadline, out
        await asyncio.sleep(0.1)


async def test_down_never_signals_a_process_that_reused_a_recorded_pid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    bystander = await asyncio.create_subprocess_exec("sleep", "60", start_new_session=True)
    try:
        # Records as a crashed stack leaves them, but the pids now belong to someone else.
        stale = {"pid": bystander.pid, "identity": "start-ticks:1"}
        (run_dir / "stack.pid").write_text(json.dumps(stale))
        (run_dir / "children.json").write_text(json.dumps([stale, bystander.pid]))
        env, _ = stack_env(run_dir)
        code, out = await devstack("down", env, timeout=60)
        assert code == 0, out
        assert "not running" in out
        assert bystander.returncode is None and alive(bystander.pid)
    finally:
        bystander.kill()
        await bystander.wait()
