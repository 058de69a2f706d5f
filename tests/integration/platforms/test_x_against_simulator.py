from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from sma_common.errors import AuthRejected, NotFound, RateLimited
from sma_common.platforms import Platform
from sma_platforms import ItemResult, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.x import XAdapter
from sma_simulator.platforms.x import SUSPENDED
from sma_simulator.profiles.x import is_protected
from tests.integration.platforms.conftest import StartSimulator
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

X = Platform.X
X_DEVS = ResolvedAccount(X, "2244994945", "XDevelopers", "Developers")
# The simulator's clock starts at 2026-03-01 12:00 UTC, the start of a 15-minute window.
WINDOW_END = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


@pytest.fixture
async def x(simulator: Simulator) -> AsyncIterator[XAdapter]:
    adapter = XAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()


async def test_a_full_batch_of_100_is_one_call(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_accounts_per_platform=120)
    adapter = XAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        accounts = simulator.accounts(X)
        targets = simulator.targets(accounts)
        result = await adapter.fetch(targets)
    finally:
        await adapter.close()
    for t, account in zip(targets, accounts, strict=True):
        assert result.items[t.job_id].outcome is Outcome.SUCCESS
        assert figures(result.items[t.job_id]) == simulator.expected(account)
    assert result.api_calls == simulator.requests(X, "users") == 2  # 100 + 20
    assert result.rate_limit == RateLimitState(300, 298, WINDOW_END)


async def test_unknown_and_suspended_ids_are_not_found_while_the_rest_succeed(
    simulator: Simulator, x: XAdapter
) -> None:
    known = simulator.targets(simulator.accounts(X)[:3])
    unknown, suspended, malformed = target("1234567890123"), target(next(iter(SUSPENDED))), target("@sma_demo")
    result = await x.fetch([*known, unknown, suspended, malformed])
    assert [result.items[t.job_id].outcome for t in known] == [Outcome.SUCCESS] * 3
    assert result.items[unknown.job_id].outcome is Outcome.NOT_FOUND
    assert "Could not find user" in (result.items[unknown.job_id].error or "")
    assert result.items[suspended.job_id].outcome is Outcome.NOT_FOUND
    assert "suspended" in (result.items[suspended.job_id].error or "")
    assert result.items[malformed.job_id].outcome is Outcome.NOT_FOUND
    assert result.api_calls == 1
    only_unknown = await x.fetch([target("99")])  # 200 with errors[] and no `data`
    assert _outcomes(only_unknown.items) == {Outcome.NOT_FOUND: 1}


async def test_a_missing_listed_count_is_no_point(simulator: Simulator, x: XAdapter) -> None:
    protected = [a for a in simulator.accounts(X) if is_protected(a)]
    assert protected
    result = await x.fetch(simulator.targets(protected))
    for item in result.items.values():
        assert item.outcome is Outcome.SUCCESS
        assert set(figures(item)) == {"followers", "following", "posts"}


async def test_the_window_runs_out_into_a_429_with_the_reset(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_x_rate_limit=1)
    adapter = XAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        targets = simulator.targets(simulator.accounts(X)[:2])
        assert _outcomes((await adapter.fetch(targets)).items) == {Outcome.SUCCESS: 2}
        result = await adapter.fetch(targets)
        assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 2}
        assert result.api_calls == 1  # a 429 is never retried
        assert result.rate_limit == RateLimitState(1, 0, WINDOW_END)
        assert "Too Many Requests" in (next(iter(result.items.values())).error or "")
        with pytest.raises(RateLimited) as caught:
            await adapter.resolve("2244994945")
        assert caught.value.retry_after == (WINDOW_END - simulator.clock.now()).total_seconds()
        simulator.clock.advance(15 * 60)  # the next window
        assert await adapter.resolve("2244994945") == X_DEVS
    finally:
        await adapter.close()


async def test_a_rate_limit_fault_is_rate_limited_until_its_reset(simulator: Simulator, x: XAdapter) -> None:
    await simulator.fault(platform="x", kind="rate_limit", retry_after_seconds=120)
    result = await x.fetch(simulator.targets(simulator.accounts(X)[:5]))
    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 5}
    assert result.rate_limit == RateLimitState(300, 0, simulator.clock.now() + timedelta(seconds=120))


async def test_a_bad_token_is_an_auth_error(simulator: Simulator) -> None:
    settings = simulator.platform_settings(x_bearer_token=SecretStr("not-the-token"))
    adapter = XAdapter(settings, clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        result = await adapter.fetch(simulator.targets(simulator.accounts(X)))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 30}
        assert result.api_calls == 1
        assert result.rate_limit is None  # X sends no rate-limit headers with a 401
        assert "Unauthorized" in (next(iter(result.items.values())).error or "")
        with pytest.raises(AuthRejected):
            await adapter.resolve("@sma_demo")
    finally:
        await adapter.close()


async def test_an_unauthorized_fault_is_an_auth_error(simulator: Simulator, x: XAdapter) -> None:
    await simulator.fault(platform="x", kind="unauthorized")
    result = await x.fetch(simulator.targets(simulator.accounts(X)[:3]))
    assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 3}


async def test_unconfigured_without_a_token(simulator: Simulator) -> None:
    adapter = XAdapter(simulator.platform_settings(x_bearer_token=None))
    try:
        assert not adapter.is_configured
        result = await adapter.fetch(simulator.targets(simulator.accounts(X)[:2]))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 2}
        assert result.api_calls == 0
    finally:
        await adapter.close()


async def test_a_5xx_burst_is_retried_then_recovers(simulator: Simulator, x: XAdapter) -> None:
    await simulator.fault(platform="x", kind="server_error", status=503, count=10)
    result = await x.fetch(simulator.targets(simulator.accounts(X)[:5]))
    assert _outcomes(result.items) == {Outcome.FAILED: 5}
    assert result.api_calls == 1 + MAX_RETRIES
    assert len(simulator.sleeps) == MAX_RETRIES
    await simulator.clear_faults()
    await simulator.fault(platform="x", kind="server_error", count=2)
    recovered = await x.fetch(simulator.targets(simulator.accounts(X)[:5]))
    assert _outcomes(recovered.items) == {Outcome.SUCCESS: 5}
    assert recovered.api_calls == 3


async def test_timeout(simulator: Simulator, x: XAdapter) -> None:
    await simulator.fault(platform="x", kind="timeout", delay_seconds=10)
    result = await x.fetch(simulator.targets(simulator.accounts(X)[:2]))
    assert _outcomes(result.items) == {Outcome.TIMEOUT: 2}


@pytest.mark.parametrize(
    "account",
    ["2244994945", "@XDevelopers", "@xdevelopers", "XDevelopers", "x.com/XDevelopers",
     "https://twitter.com/XDevelopers", "https://x.com/XDevelopers/status/1", "https://x.com/i/user/2244994945"],
)
async def test_resolve_by_id_name_or_url(x: XAdapter, account: str) -> None:
    assert await x.resolve(account) == X_DEVS


async def test_resolve_a_generated_account(simulator: Simulator, x: XAdapter) -> None:
    account = simulator.accounts(X)[5]
    resolved = await x.resolve(f"@{account.handle}")
    assert resolved == ResolvedAccount(X, account.id, account.handle, account.display_name)
    assert simulator.requests(X, "users/by/username") == 1


@pytest.mark.parametrize(
    "account", ["@nobodyhere", "1234567890123", "@sma_suspended", "not a handle", "x.com/home", "youtube.com/@x"]
)
async def test_resolve_unknown_is_not_found(x: XAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await x.resolve(account)
