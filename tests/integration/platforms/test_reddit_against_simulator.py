from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import pytest
from pydantic import SecretStr

from sma_common.errors import AuthRejected, NotFound, RateLimited
from sma_common.platforms import Platform
from sma_platforms import ItemResult, Outcome, ResolvedAccount
from sma_platforms.reddit import RedditAdapter
from sma_simulator.profiles.reddit import PRIVATE_SUBREDDIT, active_users_missing, is_private, is_user
from sma_simulator.state import SimAccount
from tests.integration.platforms.conftest import StartSimulator
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

REDDIT = Platform.REDDIT
TOKEN = "api/v1/access_token"
ANNOUNCEMENTS = ResolvedAccount(REDDIT, "t5_2r0ij", "announcements", "Official Reddit announcements")


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


def _subreddits(simulator: Simulator) -> list[SimAccount]:
    return [a for a in simulator.accounts(REDDIT) if not is_user(a) and not is_private(a)]


@pytest.fixture
async def reddit(simulator: Simulator) -> AsyncIterator[RedditAdapter]:
    adapter = RedditAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()


async def test_a_full_batch_of_100_is_one_call(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_accounts_per_platform=120)
    adapter = RedditAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        accounts = _subreddits(simulator)[:100]
        targets = simulator.targets(accounts)
        result = await adapter.fetch(targets)
    finally:
        await adapter.close()
    for t, account in zip(targets, accounts, strict=True):
        assert result.items[t.job_id].outcome is Outcome.SUCCESS
        assert figures(result.items[t.job_id]) == simulator.expected(account)
    assert result.api_calls == simulator.requests(REDDIT, "api/info") == 1
    assert simulator.requests(REDDIT, TOKEN) == 1
    assert result.rate_limit is not None
    assert (result.rate_limit.limit, result.rate_limit.remaining) == (None, 599)  # no limit header
    assert result.rate_limit.reset_at is not None and result.rate_limit.reset_at > simulator.clock.now()


async def test_unknown_and_private_subreddits_are_not_found_while_the_rest_succeed(
    simulator: Simulator, reddit: RedditAdapter
) -> None:
    known = simulator.targets(_subreddits(simulator)[:3])
    private = simulator.ctx.world.by_handle(REDDIT, PRIVATE_SUBREDDIT)
    assert private is not None
    unknown, no_prefix = target("t5_zzzzzzz", "nosuchsub"), target("2r0ij", "announcements")
    result = await reddit.fetch([*known, unknown, target(private.id, private.handle), no_prefix])
    assert [result.items[t.job_id].outcome for t in known] == [Outcome.SUCCESS] * 3
    assert _outcomes(result.items) == {Outcome.SUCCESS: 3, Outcome.NOT_FOUND: 3}
    assert result.api_calls == 1


async def test_a_target_without_a_handle_is_asked_by_fullname(simulator: Simulator, reddit: RedditAdapter) -> None:
    account = _subreddits(simulator)[4]
    result = await reddit.fetch([target(account.id)])
    assert figures(result.items[next(iter(result.items))]) == simulator.expected(account)


async def test_missing_active_users_is_no_point(simulator: Simulator, reddit: RedditAdapter) -> None:
    missing = [a for a in _subreddits(simulator) if active_users_missing(a)]
    assert missing
    result = await reddit.fetch(simulator.targets(missing))
    for item in result.items.values():
        assert item.outcome is Outcome.SUCCESS and set(figures(item)) == {"subscribers"}


async def test_user_karma(simulator: Simulator, reddit: RedditAdapter) -> None:
    users = [a for a in simulator.accounts(REDDIT) if is_user(a)]
    targets = simulator.targets(users)
    result = await reddit.fetch([*targets, target("t2_zzzzzzz", "u/nobody_here")])
    for t, account in zip(targets, users, strict=True):
        assert figures(result.items[t.job_id]) == simulator.expected(account)
        assert set(figures(result.items[t.job_id])) == {"karma_link", "karma_comment", "karma_total"}
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(users), Outcome.NOT_FOUND: 1}
    assert result.api_calls == len(users) + 1


@pytest.mark.parametrize("retry_after", [None, 4.0])
async def test_a_429_json_or_html_is_rate_limited(
    simulator: Simulator, reddit: RedditAdapter, retry_after: float | None
) -> None:
    spec: dict[str, object] = {"platform": "reddit", "kind": "rate_limit"}
    if retry_after is not None:
        spec["retry_after_seconds"] = retry_after  # the HTML "whoa there, pardner!" page
    await simulator.fault(**spec)
    result = await reddit.fetch(simulator.targets(_subreddits(simulator)[:5]))
    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 5}
    assert result.api_calls == 1 and simulator.sleeps == []
    await simulator.fault(**spec)
    with pytest.raises(RateLimited) as caught:
        await reddit.resolve("r/smademo")
    assert caught.value.retry_after == retry_after


async def test_an_empty_window_is_rate_limited(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_reddit_rate_limit=1)
    adapter = RedditAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        assert _outcomes((await adapter.fetch(simulator.targets(_subreddits(simulator)[:2]))).items) == {
            Outcome.SUCCESS: 2}
        result = await adapter.fetch(simulator.targets(_subreddits(simulator)[:2]))
        assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 2}
        assert result.rate_limit is not None and result.rate_limit.remaining == 0
    finally:
        await adapter.close()


async def test_an_expired_token_is_renewed_once(simulator: Simulator, reddit: RedditAdapter) -> None:
    targets = simulator.targets(_subreddits(simulator)[:3])
    await simulator.fault(platform="reddit", kind="unauthorized")
    result = await reddit.fetch(targets)
    assert _outcomes(result.items) == {Outcome.SUCCESS: 3}
    assert result.api_calls == 2 and simulator.requests(REDDIT, TOKEN) == 2
    await simulator.fault(platform="reddit", kind="unauthorized", count=2)
    refused = await reddit.fetch(targets)
    assert _outcomes(refused.items) == {Outcome.AUTH_ERROR: 3}
    assert refused.api_calls == 2 and simulator.requests(REDDIT, TOKEN) == 3  # renewed once, not in a loop


async def test_a_token_is_renewed_before_it_expires(simulator: Simulator, reddit: RedditAdapter) -> None:
    targets = simulator.targets(_subreddits(simulator)[:2])
    await reddit.fetch(targets)
    simulator.clock.advance(timedelta(minutes=56).total_seconds())
    result = await reddit.fetch(targets)
    assert _outcomes(result.items) == {Outcome.SUCCESS: 2}
    assert simulator.requests(REDDIT, TOKEN) == 2 and result.api_calls == 1


async def test_bad_credentials_are_an_auth_error(simulator: Simulator) -> None:
    settings = simulator.platform_settings(reddit_client_secret=SecretStr("wrong"))
    adapter = RedditAdapter(settings, clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        result = await adapter.fetch(simulator.targets(_subreddits(simulator)[:4]))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 4}
        assert result.api_calls == 0  # the token request is not an API call
        with pytest.raises(AuthRejected):
            await adapter.resolve("r/smademo")
    finally:
        await adapter.close()


@pytest.mark.parametrize("missing", ["reddit_client_id", "reddit_client_secret", "reddit_user_agent"])
async def test_unconfigured_without_id_secret_or_user_agent(simulator: Simulator, missing: str) -> None:
    adapter = RedditAdapter(simulator.platform_settings(**{missing: None}))
    try:
        assert not adapter.is_configured
        result = await adapter.fetch(simulator.targets(_subreddits(simulator)[:2]))
        assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 2} and result.api_calls == 0
    finally:
        await adapter.close()


async def test_a_5xx_burst_is_retried_then_recovers(simulator: Simulator, reddit: RedditAdapter) -> None:
    await simulator.fault(platform="reddit", kind="server_error", status=503, count=10)
    result = await reddit.fetch(simulator.targets(_subreddits(simulator)[:5]))
    assert _outcomes(result.items) == {Outcome.FAILED: 5}
    assert result.api_calls == 1 + MAX_RETRIES and len(simulator.sleeps) == MAX_RETRIES
    await simulator.clear_faults()
    await simulator.fault(platform="reddit", kind="server_error", count=2)
    recovered = await reddit.fetch(simulator.targets(_subreddits(simulator)[:5]))
    assert _outcomes(recovered.items) == {Outcome.SUCCESS: 5}
    assert recovered.api_calls == 3


async def test_timeout(simulator: Simulator, reddit: RedditAdapter) -> None:
    await simulator.fault(platform="reddit", kind="timeout", delay_seconds=10)
    result = await reddit.fetch(simulator.targets(_subreddits(simulator)[:2]))
    assert _outcomes(result.items) == {Outcome.TIMEOUT: 2}


@pytest.mark.parametrize(
    "account", ["r/announcements", "/r/announcements", "reddit.com/r/announcements",
                "https://www.reddit.com/r/Announcements/", "t5_2r0ij", "announcements"],
)
async def test_resolve_variants(reddit: RedditAdapter, account: str) -> None:
    assert await reddit.resolve(account) == ANNOUNCEMENTS


async def test_resolve_a_user(reddit: RedditAdapter) -> None:
    assert await reddit.resolve("u/watchful1") == ResolvedAccount(REDDIT, "t2_d0z23", "u/Watchful1", None)


@pytest.mark.parametrize(
    "account", ["r/nosuchsub", "t5_zzzzzzz", "u/nobody_here", f"r/{PRIVATE_SUBREDDIT}", "not a sub",
                "https://example.com/r/smademo"],
)
async def test_resolve_unknown_or_private_is_not_found(reddit: RedditAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await reddit.resolve(account)
