from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from sma_common.errors import AuthRejected, NotFound, RateLimited
from sma_common.platforms import Platform
from sma_platforms import ItemResult, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.youtube import YouTubeAdapter
from sma_simulator.profiles.youtube import subscribers_hidden
from tests.integration.platforms.conftest import StartSimulator
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

YOUTUBE = Platform.YOUTUBE
GOOGLE_DEVS = ResolvedAccount(YOUTUBE, "UC_x5XG1OV2P6uZZ5FSM9Ttw", "@googledevelopers", "Google Developers")
# The simulator's clock starts at 2026-03-01 12:00 UTC (04:00 PST): the quota resets at 08:00 UTC next day.
PACIFIC_MIDNIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


async def test_a_full_batch_of_50_is_one_call(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_accounts_per_platform=60)
    adapter = YouTubeAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        accounts = simulator.accounts(YOUTUBE)
        targets = simulator.targets(accounts)
        result = await adapter.fetch(targets)
    finally:
        await adapter.close()
    for t, account in zip(targets, accounts, strict=True):
        assert result.items[t.job_id].outcome is Outcome.SUCCESS
        assert figures(result.items[t.job_id]) == simulator.expected(account)
    assert result.api_calls == simulator.requests(YOUTUBE, "channels") == 2  # 50 + 10
    assert result.rate_limit is None  # YouTube sends no rate-limit headers


async def test_subscribers_are_stored_as_returned_rounded_to_3_significant_figures(
    simulator: Simulator, youtube: YouTubeAdapter
) -> None:
    accounts = [a for a in simulator.accounts(YOUTUBE) if not subscribers_hidden(a)]
    result = await youtube.fetch(simulator.targets(accounts))
    subscribers = [figures(item)["subscribers"] for item in result.items.values()]
    assert any(value >= 1000 for value in subscribers)
    for value in subscribers:
        digits = str(int(value))
        assert value < 1000 or digits[3:] == "0" * (len(digits) - 3)


async def test_unknown_ids_are_not_found_while_the_rest_succeed(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    known = simulator.targets(simulator.accounts(YOUTUBE)[:3])
    unknown = target("UCaaaaaaaaaaaaaaaaaaaaaa")
    malformed = target("@smademo")
    result = await youtube.fetch([*known, unknown, malformed])
    assert [result.items[t.job_id].outcome for t in known] == [Outcome.SUCCESS] * 3
    assert result.items[unknown.job_id].outcome is Outcome.NOT_FOUND
    assert result.items[malformed.job_id].outcome is Outcome.NOT_FOUND
    assert result.api_calls == 1
    only_unknown = await youtube.fetch([target("UCbbbbbbbbbbbbbbbbbbbbbb")])  # 200 without an `items` key
    assert _outcomes(only_unknown.items) == {Outcome.NOT_FOUND: 1}


async def test_a_hidden_count_is_no_subscribers_point(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    hidden = [a for a in simulator.accounts(YOUTUBE) if subscribers_hidden(a)]
    assert hidden
    result = await youtube.fetch(simulator.targets(hidden))
    for item in result.items.values():
        assert item.outcome is Outcome.SUCCESS
        assert set(figures(item)) == {"views", "videos"}


async def test_quota_exceeded_is_rate_limited_until_pacific_midnight(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_youtube_daily_quota=1)
    adapter = YouTubeAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        assert _outcomes((await adapter.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:2]))).items) == {
            Outcome.SUCCESS: 2}
        result = await adapter.fetch(simulator.targets(simulator.accounts(YOUTUBE)))
        assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 30}
        assert result.api_calls == 1  # a 403 quota error is not retried
        assert result.rate_limit == RateLimitState(None, 0, PACIFIC_MIDNIGHT)
        with pytest.raises(RateLimited) as caught:
            await adapter.resolve("@smademo")
        assert caught.value.retry_after == (PACIFIC_MIDNIGHT - simulator.clock.now()).total_seconds()
        # A new Pacific day: the quota is back.
        simulator.clock.advance((PACIFIC_MIDNIGHT - simulator.clock.now()).total_seconds())
        assert (await adapter.resolve("@smademo")).handle == "@smademo"
    finally:
        await adapter.close()


async def test_quota_fault_is_rate_limited(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    await simulator.fault(platform="youtube", kind="rate_limit")
    result = await youtube.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:5]))
    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 5}
    assert result.rate_limit == RateLimitState(None, 0, PACIFIC_MIDNIGHT)


async def test_a_bad_key_is_an_auth_error(simulator: Simulator) -> None:
    settings = simulator.platform_settings(youtube_api_key=SecretStr("not-the-key"))
    adapter = YouTubeAdapter(settings, clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        result = await adapter.fetch(simulator.targets(simulator.accounts(YOUTUBE)))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 30}
        assert result.api_calls == 1
        assert "API key not valid" in (next(iter(result.items.values())).error or "")
        with pytest.raises(AuthRejected):
            await adapter.resolve("@smademo")
    finally:
        await adapter.close()


async def test_an_unauthorized_fault_is_an_auth_error(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    await simulator.fault(platform="youtube", kind="unauthorized")
    result = await youtube.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:3]))
    assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 3}


async def test_unconfigured_without_a_key(simulator: Simulator) -> None:
    adapter = YouTubeAdapter(simulator.platform_settings(youtube_api_key=None))
    try:
        assert not adapter.is_configured
        result = await adapter.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:2]))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 2}
        assert result.api_calls == 0
    finally:
        await adapter.close()


async def test_a_5xx_burst_is_retried_then_recovers(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    await simulator.fault(platform="youtube", kind="server_error", status=503, count=10)
    result = await youtube.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:5]))
    assert _outcomes(result.items) == {Outcome.FAILED: 5}
    assert result.api_calls == 1 + MAX_RETRIES
    assert len(simulator.sleeps) == MAX_RETRIES
    await simulator.clear_faults()
    await simulator.fault(platform="youtube", kind="server_error", count=2)
    recovered = await youtube.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:5]))
    assert _outcomes(recovered.items) == {Outcome.SUCCESS: 5}
    assert recovered.api_calls == 3


async def test_timeout(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    await simulator.fault(platform="youtube", kind="timeout", delay_seconds=10)
    result = await youtube.fetch(simulator.targets(simulator.accounts(YOUTUBE)[:2]))
    assert _outcomes(result.items) == {Outcome.TIMEOUT: 2}


@pytest.mark.parametrize(
    "account",
    ["UC_x5XG1OV2P6uZZ5FSM9Ttw", "https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw",
     "@googledevelopers", "@GoogleDevelopers", "youtube.com/@googledevelopers",
     "https://www.youtube.com/@googledevelopers/videos"],
)
async def test_resolve_by_id_url_or_handle(youtube: YouTubeAdapter, account: str) -> None:
    assert await youtube.resolve(account) == GOOGLE_DEVS


async def test_resolve_a_generated_channel(simulator: Simulator, youtube: YouTubeAdapter) -> None:
    account = simulator.accounts(YOUTUBE)[5]
    resolved = await youtube.resolve(account.handle)
    assert resolved == ResolvedAccount(YOUTUBE, account.id, account.handle, account.display_name)
    assert simulator.requests(YOUTUBE, "channels") == 1


@pytest.mark.parametrize(
    "account", ["@nobodyhere", "UCaaaaaaaaaaaaaaaaaaaaaa", "not a handle", "youtube.com/watch?v=x"]
)
async def test_resolve_unknown_is_not_found(youtube: YouTubeAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await youtube.resolve(account)
