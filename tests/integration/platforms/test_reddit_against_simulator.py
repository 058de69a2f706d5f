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
USER_DATA = "api/user_data_by_account_ids"
# The batch user endpoint serves no total karma: none is stored (never computed from the others).
BATCH_KARMA = ("karma_link", "karma_comment")
ANNOUNCEMENTS = ResolvedAccount(REDDIT, "t5_2r0ij", "announcements", "Official Reddit announcements")


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


def _subreddits(simulator: Simulator) -> list[SimAccount]:
    return [a for a in simulator.accounts(REDDIT) if not is_user(a) and not is_private(a)]


def _users(simulator: Simulator) -> list[SimAccount]:
    return [a for a in simulator.accounts(REDDIT) if is_user(a)]


def _karma(simulator: Simulator, account: SimAccount) -> dict[str, float]:
    expected = simulator.expected(account)
    return {metric: expected[metric] for metric in BATCH_KARMA}


def _ghost(n: int) -> str:
    return f"t2_zz{n:05d}"


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


async def test_user_karma_is_one_batch_call(simulator: Simulator, reddit: RedditAdapter) -> None:
    users = _users(simulator)
    targets = simulator.targets(users)
    result = await reddit.fetch([*targets, target("t2_zzzzzzz", "u/nobody_here")])
    for t, account in zip(targets, users, strict=True):
        assert figures(result.items[t.job_id]) == _karma(simulator, account)  # no karma_total
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(users), Outcome.NOT_FOUND: 1}
    assert result.api_calls == simulator.requests(REDDIT, USER_DATA) == 1
    assert simulator.requests(REDDIT, "user/about") == 0
    served = {(o.account_id, o.metric) for o in simulator.ctx.ledger.observations(REDDIT.value)}
    assert served == {(a.id, m) for a in users for m in BATCH_KARMA}


async def test_a_full_batch_of_100_users_is_one_call(simulator: Simulator, reddit: RedditAdapter) -> None:
    users = _users(simulator)
    ghosts = [target(_ghost(n), f"u/ghost{n}") for n in range(100 - len(users))]
    result = await reddit.fetch([*simulator.targets(users), *ghosts])
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(users), Outcome.NOT_FOUND: len(ghosts)}
    assert result.api_calls == simulator.requests(REDDIT, USER_DATA) == 1


async def test_users_and_subreddits_in_one_command_cost_one_call_each(
    simulator: Simulator, reddit: RedditAdapter
) -> None:
    accounts = [*_subreddits(simulator)[:3], *_users(simulator)]
    targets = simulator.targets(accounts)
    result = await reddit.fetch(targets)
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(accounts)}
    assert (simulator.requests(REDDIT, "api/info"), simulator.requests(REDDIT, USER_DATA)) == (1, 1)
    assert result.api_calls == 2


async def test_more_than_100_users_are_chunked_and_an_all_unknown_chunk_is_not_found(
    simulator: Simulator, reddit: RedditAdapter
) -> None:
    users = _users(simulator)
    ghosts = [target(_ghost(n)) for n in range(150 - len(users))]
    result = await reddit.fetch([*simulator.targets(users), *ghosts])  # the second chunk is answered 404
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(users), Outcome.NOT_FOUND: len(ghosts)}
    assert result.api_calls == simulator.requests(REDDIT, USER_DATA) == 2


async def test_a_user_without_a_handle_is_fetched_by_fullname(simulator: Simulator, reddit: RedditAdapter) -> None:
    account = _users(simulator)[0]
    result = await reddit.fetch([target(account.id)])
    assert figures(result.items[next(iter(result.items))]) == _karma(simulator, account)


async def test_a_rate_limit_on_the_user_batch_halts_it(simulator: Simulator, reddit: RedditAdapter) -> None:
    await simulator.fault(platform="reddit", kind="rate_limit", endpoint=USER_DATA)
    subreddits, users = _subreddits(simulator)[:2], _users(simulator)
    result = await reddit.fetch(simulator.targets([*subreddits, *users]))
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(subreddits), Outcome.RATE_LIMITED: len(users)}
    assert result.api_calls == 2


async def test_a_rejected_token_on_the_user_batch_is_an_auth_error(
    simulator: Simulator, reddit: RedditAdapter
) -> None:
    await simulator.fault(platform="reddit", kind="unauthorized", endpoint=USER_DATA, count=2)
    result = await reddit.fetch(simulator.targets(_users(simulator)))
    assert _outcomes(result.items) == {Outcome.AUTH_ERROR: len(_users(simulator))}
    assert result.api_calls == 2  # renewed once, not in a loop


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


async def test_resolve_a_user(simulator: Simulator, reddit: RedditAdapter) -> None:
    watchful1 = ResolvedAccount(REDDIT, "t2_d0z23", "u/Watchful1", None)
    assert await reddit.resolve("u/watchful1") == watchful1
    assert simulator.requests(REDDIT, "user/about") == 1
    assert await reddit.resolve("t2_d0z23") == watchful1  # by fullname through the batch endpoint
    assert simulator.requests(REDDIT, USER_DATA) == 1


@pytest.mark.parametrize(
    "account", ["r/nosuchsub", "t5_zzzzzzz", "t2_zzzzzzz", "u/nobody_here", f"r/{PRIVATE_SUBREDDIT}", "not a sub",
                "https://example.com/r/smademo"],
)
async def test_resolve_unknown_or_private_is_not_found(reddit: RedditAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await reddit.resolve(account)
