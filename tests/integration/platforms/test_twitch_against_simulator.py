from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

import pytest

from sma_common.errors import AuthRejected, DependencyTimeout, NotFound, RateLimited, UpstreamUnavailable
from sma_common.platforms import Platform
from sma_platforms import ItemResult, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.twitch import TwitchAdapter
from tests.integration.platforms.conftest import StartSimulator
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

TWITCH = Platform.TWITCH


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


async def test_batch_fetch_reads_what_the_simulator_serves(simulator: Simulator, twitch: TwitchAdapter) -> None:
    accounts = simulator.accounts(TWITCH)
    targets = simulator.targets(accounts)
    result = await twitch.fetch(targets)
    now = simulator.clock.now()
    assert result.observed_at == now
    for t, account in zip(targets, accounts, strict=True):
        assert result.items[t.job_id].outcome is Outcome.SUCCESS
        assert figures(result.items[t.job_id]) == simulator.expected(account)
    live = [a for a in accounts if simulator.expected(a)["is_live"] == 1.0]
    assert 0 < len(live) < len(accounts), "the fixed clock should show both live and offline channels"
    assert result.api_calls == 2 + len(accounts)  # users + streams + one followers call per channel
    assert simulator.requests(TWITCH, "oauth2/token") == 1
    refill = timedelta(seconds=math.ceil(result.api_calls * 60 / 800))  # 800 points a minute
    assert result.rate_limit == RateLimitState(800, 800 - result.api_calls, now + refill)
    served = {(o.account_id, o.metric, o.value) for o in simulator.ctx.ledger.observations("twitch")}
    read = {(t.external_id, o.metric, o.value) for t in targets for o in result.items[t.job_id].observations}
    assert served == read


async def test_unknown_ids_are_not_found_while_the_rest_succeed(simulator: Simulator, twitch: TwitchAdapter) -> None:
    known = simulator.targets(simulator.accounts(TWITCH)[:3])
    duplicate = target(known[0].external_id, "twitchdev")
    unknown, malformed = target("999999999", "ghost"), target("not-a-number", "bad")
    result = await twitch.fetch([*known, unknown, duplicate, malformed])
    assert result.items[unknown.job_id].outcome is Outcome.NOT_FOUND
    assert result.items[malformed.job_id].outcome is Outcome.NOT_FOUND
    assert [result.items[t.job_id].outcome for t in [*known, duplicate]] == [Outcome.SUCCESS] * 4
    assert result.items[duplicate.job_id] == result.items[known[0].job_id]
    assert result.api_calls == 2 + 3


async def test_token_is_cached_and_renewed_before_it_expires(simulator: Simulator, twitch: TwitchAdapter) -> None:
    targets = simulator.targets(simulator.accounts(TWITCH)[:2])
    await twitch.fetch(targets)
    await twitch.fetch(targets)
    assert simulator.requests(TWITCH, "oauth2/token") == 1
    simulator.clock.advance(3600 - 300)  # inside the renewal margin of a one-hour token
    result = await twitch.fetch(targets)
    assert _outcomes(result.items) == {Outcome.SUCCESS: 2}
    assert simulator.requests(TWITCH, "oauth2/token") == 2
    assert simulator.registry.get_sample_value(
        "sma_simulator_requests_total", {"platform": "twitch", "endpoint": "users", "status_class": "4xx"}) is None


async def test_a_401_renews_the_token_once(simulator: Simulator, twitch: TwitchAdapter) -> None:
    targets = simulator.targets(simulator.accounts(TWITCH)[:2])
    await twitch.fetch(targets)
    await simulator.fault(platform="twitch", kind="unauthorized", count=1)
    result = await twitch.fetch(targets)
    assert _outcomes(result.items) == {Outcome.SUCCESS: 2}
    assert simulator.requests(TWITCH, "oauth2/token") == 2
    assert simulator.requests(TWITCH, "users") == 3

    await simulator.fault(platform="twitch", kind="unauthorized", endpoint="users", count=5)
    refused = await twitch.fetch(targets)
    assert _outcomes(refused.items) == {Outcome.AUTH_ERROR: 2}
    assert simulator.requests(TWITCH, "oauth2/token") == 3
    assert simulator.requests(TWITCH, "users") == 5


async def test_refused_credentials(simulator: Simulator) -> None:
    adapter = TwitchAdapter(simulator.platform_settings(twitch_client_secret="wrong"), clock=simulator.clock)
    try:
        result = await adapter.fetch(simulator.targets(simulator.accounts(TWITCH)[:2]))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 2}
        assert "invalid client secret" in (next(iter(result.items.values())).error or "")
        assert result.api_calls == 0
        with pytest.raises(AuthRejected):
            await adapter.resolve("twitchdev")
    finally:
        await adapter.close()


async def test_429_is_rate_limited_with_the_reset_time(simulator: Simulator, twitch: TwitchAdapter) -> None:
    await simulator.fault(platform="twitch", kind="rate_limit", retry_after_seconds=30)
    result = await twitch.fetch(simulator.targets(simulator.accounts(TWITCH)[:4]))
    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 4}
    assert result.api_calls == 1  # a 429 is never retried
    assert result.rate_limit == RateLimitState(800, 0, simulator.clock.now() + timedelta(seconds=30))
    assert simulator.sleeps == []


async def test_an_empty_bucket_mid_batch(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_twitch_points_per_minute=5)
    adapter = TwitchAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        result = await adapter.fetch(simulator.targets(simulator.accounts(TWITCH)[:6]))
    finally:
        await adapter.close()
    # users + streams + 3 follower totals fit in 5 points; the other 3 channels are told to wait
    assert _outcomes(result.items) == {Outcome.SUCCESS: 3, Outcome.RATE_LIMITED: 3}
    assert result.rate_limit is not None and result.rate_limit.remaining == 0


async def test_resolve_while_rate_limited(simulator: Simulator, twitch: TwitchAdapter) -> None:
    await simulator.fault(platform="twitch", kind="rate_limit", retry_after_seconds=30)
    with pytest.raises(RateLimited) as caught:
        await twitch.resolve("twitchdev")
    assert caught.value.retry_after == 30.0


async def test_5xx_is_retried_a_bounded_number_of_times_then_failed(
    simulator: Simulator, twitch: TwitchAdapter
) -> None:
    await simulator.fault(platform="twitch", kind="server_error", endpoint="users", count=10)
    result = await twitch.fetch(simulator.targets(simulator.accounts(TWITCH)[:3]))
    assert _outcomes(result.items) == {Outcome.FAILED: 3}
    assert next(iter(result.items.values())).error == "HTTP 500: Internal Server Error"
    assert result.api_calls == simulator.requests(TWITCH, "users") == 1 + MAX_RETRIES
    assert len(simulator.sleeps) == MAX_RETRIES
    with pytest.raises(UpstreamUnavailable):
        await twitch.resolve("twitchdev")


async def test_5xx_then_recovery(simulator: Simulator, twitch: TwitchAdapter) -> None:
    await simulator.fault(platform="twitch", kind="server_error", status=503, endpoint="streams", count=2)
    result = await twitch.fetch(simulator.targets(simulator.accounts(TWITCH)[:3]))
    assert _outcomes(result.items) == {Outcome.SUCCESS: 3}
    assert result.api_calls == 1 + 3 + 3


async def test_retry_after_is_honoured_and_a_long_one_is_not_waited_for(
    simulator: Simulator, twitch: TwitchAdapter
) -> None:
    targets = simulator.targets(simulator.accounts(TWITCH)[:1])
    await simulator.fault(platform="twitch", kind="server_error", status=503, endpoint="users", retry_after_seconds=3)
    assert _outcomes((await twitch.fetch(targets)).items) == {Outcome.SUCCESS: 1}
    assert simulator.sleeps == [3.0]
    await simulator.fault(platform="twitch", kind="server_error", status=503, endpoint="users", retry_after_seconds=600)
    result = await twitch.fetch(targets)
    assert _outcomes(result.items) == {Outcome.FAILED: 1}
    assert result.api_calls == 1 and simulator.sleeps == [3.0]


async def test_timeout(simulator: Simulator, twitch: TwitchAdapter) -> None:
    await simulator.fault(platform="twitch", kind="timeout", endpoint="streams", delay_seconds=10)
    result = await twitch.fetch(simulator.targets(simulator.accounts(TWITCH)[:2]))
    assert _outcomes(result.items) == {Outcome.TIMEOUT: 2}
    assert result.api_calls == 2  # users, then streams once: a timeout is not retried
    await simulator.fault(platform="twitch", kind="timeout", delay_seconds=10)
    with pytest.raises(DependencyTimeout):
        await twitch.resolve("twitchdev")


@pytest.mark.parametrize(
    "account",
    ["twitchdev", "@TwitchDev", "twitch.tv/twitchdev", "https://www.twitch.tv/twitchdev", "141981764"],
)
async def test_resolve_by_login_url_or_id(twitch: TwitchAdapter, account: str) -> None:
    assert await twitch.resolve(account) == ResolvedAccount(TWITCH, "141981764", "twitchdev", "TwitchDev")


async def test_resolve_generated_account(simulator: Simulator, twitch: TwitchAdapter) -> None:
    account = simulator.ctx.world.by_handle(TWITCH, "sim_user_0001")
    assert account is not None
    resolved = await twitch.resolve("https://m.twitch.tv/sim_user_0001/videos")
    assert (resolved.external_id, resolved.handle, resolved.display_name) == (account.id, "sim_user_0001",
                                                                              "Sim User 0001")


@pytest.mark.parametrize("account", ["nobody_here", "123", "https://youtube.com/@twitchdev", "not a login"])
async def test_resolve_unknown_is_not_found(simulator: Simulator, twitch: TwitchAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await twitch.resolve(account)
