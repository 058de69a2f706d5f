"""`sma profile` as an operator runs it: a subprocess measuring a running gateway."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg
import pytest

from sma_cli.latency import Outcome, Tally
from sma_gateway.app import build
from tests.integration.cli.test_jobs_cli import sma
from tests.integration.gateway.harness import RunService, Seeder, create_api_key, gateway_settings

GatewayFactory = Callable[..., AbstractAsyncContextManager[str]]
ID_ROUTES = {"/api/accounts/{id}", "/api/accounts/{id}/summary", "/api/accounts/{id}/metrics",
             "/api/accounts/{id}/metrics (day)", "/api/jobs/{id}", "/api/jobs/{id}/executions"}
LIST_ROUTES = {"/health/ready", "/api/jobs", "/api/accounts", "/api/platforms", "/api/leaderboard"}


@pytest.fixture
def gateway_with(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService
) -> GatewayFactory:
    """A running gateway with the given settings overrides; yields its URL."""
    def start(**overrides: object) -> AbstractAsyncContextManager[str]:
        settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix, **overrides)
        return run_service(build(settings))

    return start


@pytest.fixture
async def token(db: asyncpg.Pool) -> AsyncIterator[str]:
    yield await create_api_key(db, ["read"], name="profiler")


async def test_profile_measures_every_endpoint_with_real_ids(
    gateway_with: GatewayFactory, token: str, db: asyncpg.Pool
) -> None:
    seed = Seeder(db)
    await seed.job("twitch")
    async with gateway_with() as url:
        code, out, err = await sma("profile", "--url", url, "--token", token, "--requests", "5", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mode"] == "profile" and report["passed"] is True and report["skipped"] == []
    names = {row["endpoint"] for row in report["endpoints"]}
    assert names == ID_ROUTES | LIST_ROUTES
    for row in report["endpoints"]:
        assert row["requests"] == 5 and row["errors"] == 0 and row["statuses"] == {"200": 5}, row
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert report["total"]["requests"] == 5 * len(names)


async def test_profile_without_accounts_skips_the_id_routes_and_says_so(
    gateway_with: GatewayFactory, token: str
) -> None:
    async with gateway_with() as url:
        code, out, err = await sma("profile", "--url", url, "--token", token, "--requests", "2")
    assert code == 0, err
    rows = [line.split()[0] for line in out.splitlines() if line.strip().startswith("/")]
    assert rows == ["/health/ready", "/api/platforms", "/api/jobs", "/api/accounts", "/api/leaderboard"]
    assert "skipped" in out and "no account yet" in out and "no job yet" in out
    assert "error rate 0.00%" in out


async def test_a_rate_limited_key_is_waited_out_and_counted_apart_not_as_errors(
    gateway_with: GatewayFactory, token: str, db: asyncpg.Pool
) -> None:
    await Seeder(db).job("twitch")
    # Five requests at once, then ten a second: the profile's 33 requests must meet 429s.
    async with gateway_with(api_rate_limit_burst=5, api_rate_limit_per_minute=600) as url:
        code, out, err = await sma("profile", "--url", url, "--token", token, "--requests", "3", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["total"]["throttled"] > 0 and report["total"]["errors"] == 0 and report["passed"]
    for row in report["endpoints"]:
        # every endpoint still got its three measured answers
        assert row["requests"] - row["throttled"] == 3 and row["statuses"].get("200") == 3, row


async def test_load_test_reports_rate_latency_and_answers_by_status(
    gateway_with: GatewayFactory, token: str, db: asyncpg.Pool
) -> None:
    await Seeder(db).job("youtube")
    async with gateway_with(api_rate_limit_per_minute=0) as url:  # 0: no per-key limit
        code, out, err = await sma("profile", "--url", url, "--token", token, "--load-test", "--duration", "2",
                                   "--concurrent-users", "4", "--json")
    assert code == 0, err
    report = json.loads(out)
    total = report["total"]
    assert report["mode"] == "load_test" and report["concurrent_users"] == 4 and report["passed"]
    assert 2.0 <= report["elapsed_seconds"] < 10 and total["requests"] > 20
    assert report["requests_per_second"] == pytest.approx(total["requests"] / report["elapsed_seconds"], rel=0.01)
    assert total["statuses"] == {"200": total["requests"]} and total["throttled"] == 0
    assert sum(row["requests"] for row in report["endpoints"]) == total["requests"]
    assert 0 < total["p50_ms"] <= total["p95_ms"] <= total["p99_ms"]

    async with gateway_with(api_rate_limit_per_minute=0) as url:
        code, out, err = await sma("profile", "--url", url, "--token", token, "--load-test", "--duration", "1",
                                   "--concurrent-users", "2")
    assert code == 0, err
    for words in ("load test of", "req/s", "answers by status", "p99", "error rate"):
        assert words in out


async def test_bad_token_unreachable_gateway_and_bad_arguments_are_clear_errors(
    gateway_with: GatewayFactory,
) -> None:
    async with gateway_with() as url:
        code, _, err = await sma("profile", "--url", url, "--token", "sma_nope_nope")
        assert code == 1 and "HTTP 401" in err and "Traceback" not in err
        code, _, err = await sma("profile", "--url", url)
        assert code == 2 and "no API key" in err
        code, _, err = await sma("profile", "--url", url, "--token", "t", "--max-error-rate", "2")
        assert code == 2 and "--max-error-rate" in err
    code, _, err = await sma("profile", "--url", "http://127.0.0.1:1", "--token", "t", "--timeout", "2")
    assert code == 1 and "cannot reach the gateway" in err and "Traceback" not in err


def test_error_rate_excludes_throttled_answers_and_decides_the_exit_code() -> None:
    from sma_cli.commands.profile import _verdict

    tally = Tally()
    for _ in range(97):
        tally.add(Outcome(200, 0.01))
    tally.add(Outcome(503, 0.02))
    tally.add(Outcome(None, 5.0, error="TimeoutError"))
    tally.add(Outcome(404, 0.01))
    for _ in range(50):
        tally.add(Outcome(429, 0.001, retry_after=1.0))
    assert tally.requests == 150 and tally.throttled == 50 and tally.errors == 3
    assert tally.error_rate == pytest.approx(0.03)
    assert tally.summary()["statuses"] == {"200": 97, "404": 1, "429": 50, "503": 1, "no answer": 1}
    assert len(tally.latencies) == 99  # answered, not throttled: the timeout has no latency
    assert _verdict(tally, 0.05)["passed"] and not _verdict(tally, 0.01)["passed"]
    nothing = Tally()
    nothing.add(Outcome(429, 0.001, retry_after=1.0))
    assert not _verdict(nothing, 1.0)["passed"]  # nothing succeeded: never a pass
