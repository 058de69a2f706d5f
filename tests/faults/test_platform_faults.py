"""Platform faults (the simulator's fault knobs) against a real collector process: 5xx bursts,
timeouts, expired and refused tokens and a 429 storm. The simulator counts every call, so each
scenario proves the calls stay bounded (retries only for 5xx, at most `SMA_PLATFORM_MAX_RETRIES`;
no retry of a 429, a timeout or a refused token), that the executions record the outcome
docs/PLATFORMS.md names, and that the jobs are rescheduled as it says: a rate-limited job is next
due within the minute after the platform's reset, any other keeps its cadence."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from sma_common.platforms import Platform
from tests.faults.rig import FaultStack, Job, eventually, fault_stack

pytestmark = [pytest.mark.faults]

MAX_RETRIES = 2
REQUEST_TIMEOUT = 1.0
RESET_SECONDS = 30


async def _run(stack: FaultStack, platform: Platform, jobs: list[Job]) -> tuple[dict[str, int], Counter[str]]:
    """Dispatch `jobs` as one command; wait for their executions. Returns the simulator's calls
    per endpoint during the command and the executions' statuses."""
    before = await stack.sim_requests(platform)
    ids = [j[0] for j in jobs]
    await stack.produce_round(platform, jobs, size=len(jobs))
    await eventually(lambda: _recorded(stack, ids), timeout=60, what=f"executions of {len(ids)} jobs")
    after = await stack.sim_requests(platform)
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    rows = await stack.query("SELECT status FROM job_executions WHERE job_id = ANY($1::uuid[])", ids)
    return calls, Counter(r["status"] for r in rows)


async def _recorded(stack: FaultStack, ids: list[object]) -> bool:
    rows = await stack.query("SELECT count(*) AS n FROM job_executions WHERE job_id = ANY($1::uuid[])", ids)
    return int(rows[0]["n"]) == len(ids)


async def _jobs(stack: FaultStack, ids: list[object]) -> list[dict[str, object]]:
    rows = await stack.query(
        "SELECT j.id, j.next_run_at, j.last_status, j.consecutive_failures, e.finished_at "
        "FROM monitoring_jobs j JOIN job_executions e ON e.job_id = j.id WHERE j.id = ANY($1::uuid[])", ids)
    return [dict(r) for r in rows]


@pytest.mark.timeout(240)
async def test_platform_faults_bounded_calls_right_status_documented_rescheduling() -> None:
    async with fault_stack(accounts_per_platform=12) as stack:
        bluesky = await stack.seed(Platform.BLUESKY, 12)
        twitch = await stack.seed(Platform.TWITCH, 6)
        cadence = {j[0]: r["next_run_at"] for j, r in zip(
            bluesky + twitch, await stack.query(
                "SELECT id, next_run_at FROM monitoring_jobs ORDER BY array_position($1::uuid[], id)",
                [j[0] for j in bluesky + twitch]), strict=True)}
        await stack.start("collector", "sma_collector", SMA_PLATFORM_REQUEST_TIMEOUT_SECONDS=REQUEST_TIMEOUT,
                          SMA_PLATFORM_MAX_RETRIES=MAX_RETRIES, SMA_PLATFORM_BUDGET_MAX_WAIT_SECONDS=1)
        profiles = "app.bsky.actor.getProfiles"

        # A 5xx burst longer than the retries: 1 call + 2 retries, then `failed`.
        await stack.sim_fault(platform="bluesky", kind="server_error", status=503, count=MAX_RETRIES + 1)
        calls, statuses = await _run(stack, Platform.BLUESKY, bluesky[0:3])
        assert calls == {profiles: MAX_RETRIES + 1}
        assert statuses == {"failed": 3}

        # A shorter burst: the last retry succeeds.
        await stack.sim_fault(platform="bluesky", kind="server_error", status=502, count=MAX_RETRIES)
        calls, statuses = await _run(stack, Platform.BLUESKY, bluesky[3:6])
        assert calls == {profiles: MAX_RETRIES + 1}
        assert statuses == {"success": 3}

        # No answer within the request timeout: one call, never retried, `timeout`.
        await stack.sim_fault(platform="bluesky", kind="timeout", delay_seconds=REQUEST_TIMEOUT * 5, count=1)
        calls, statuses = await _run(stack, Platform.BLUESKY, bluesky[6:9])
        assert calls == {profiles: 1}
        assert statuses == {"timeout": 3}

        # An expired token (401 on the API): renewed once, the call retried once, `success`.
        _, statuses = await _run(stack, Platform.TWITCH, twitch[0:2])  # the first token
        assert statuses == {"success": 2}
        await stack.sim_fault(platform="twitch", kind="unauthorized", count=1)
        calls, statuses = await _run(stack, Platform.TWITCH, twitch[2:4])
        assert calls["oauth2/token"] == 1 and calls["users"] == 2
        assert statuses == {"success": 2}

        # A token the platform keeps refusing: `auth_error` after one renewal, then the credential
        # is held: the next command ends `auth_error` without a single call.
        await stack.sim_fault(platform="twitch", kind="unauthorized", count=2)
        calls, statuses = await _run(stack, Platform.TWITCH, twitch[4:5])
        assert calls == {"oauth2/token": 1, "users": 2}
        assert statuses == {"auth_error": 1}
        calls, statuses = await _run(stack, Platform.TWITCH, twitch[5:6])
        assert calls == {}
        assert statuses == {"auth_error": 1}

        # A 429 storm: the first 429 holds the budget until the reset, so the commands behind
        # it end `rate_limited` without calling (no retry storm).
        await stack.sim_fault(platform="bluesky", kind="rate_limit", retry_after_seconds=RESET_SECONDS,
                              duration_seconds=RESET_SECONDS)
        storm = bluesky[9:12]
        before = sum((await stack.sim_requests(Platform.BLUESKY)).values())
        for job in storm:  # three commands, one job each
            await stack.produce_round(Platform.BLUESKY, [job], size=1)
        await eventually(lambda: _recorded(stack, [j[0] for j in storm]), timeout=60, what="the storm's executions")
        calls_made = sum((await stack.sim_requests(Platform.BLUESKY)).values()) - before
        assert 1 <= calls_made <= len(storm), "a 429 is never retried; the held budget stops the rest"
        rows = await stack.query("SELECT status FROM job_executions WHERE job_id = ANY($1::uuid[])",
                                 [j[0] for j in storm])
        assert {r["status"] for r in rows} == {"rate_limited"}

        # Rescheduling: rate-limited jobs within the minute after the reset; the others keep the
        # cadence the scheduler gave them; failures are counted, a success resets the count.
        for job in await _jobs(stack, [j[0] for j in bluesky + twitch]):
            finished: datetime = job["finished_at"]  # type: ignore[assignment]
            next_run: datetime = job["next_run_at"]  # type: ignore[assignment]
            if job["last_status"] == "rate_limited":
                reset = finished + timedelta(seconds=RESET_SECONDS)
                assert reset - timedelta(seconds=2) <= next_run <= reset + timedelta(seconds=61), job
            else:
                assert next_run == cadence[job["id"]], job
            assert job["consecutive_failures"] == (0 if job["last_status"] == "success" else 1), job
