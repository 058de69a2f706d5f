from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

import pytest

from sma_common.errors import DependencyTimeout, NotFound, RateLimited, UpstreamUnavailable
from sma_common.platforms import Platform
from sma_devstack import free_port
from sma_platforms import ItemResult, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.bluesky import BlueskyAdapter
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

BLUESKY = Platform.BLUESKY
BSKY_APP = ResolvedAccount(BLUESKY, "did:plc:z72i7hdynmk6r22z27h6tvur", "bsky.app", "Bluesky")


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


async def test_batch_fetch_in_calls_of_25(simulator: Simulator, bluesky: BlueskyAdapter) -> None:
    accounts = simulator.accounts(BLUESKY)
    targets = simulator.targets(accounts)
    result = await bluesky.fetch(targets)
    for t, account in zip(targets, accounts, strict=True):
        assert result.items[t.job_id].outcome is Outcome.SUCCESS
        assert figures(result.items[t.job_id]) == simulator.expected(account)
    assert result.api_calls == simulator.requests(BLUESKY, "app.bsky.actor.getProfiles") == 2  # 25 + 5
    window_end = simulator.clock.now().replace(minute=5)  # 300-second windows; the clock is at 12:00
    assert result.rate_limit == RateLimitState(3000, 2998, window_end)
    assert result.observed_at == simulator.clock.now()


async def test_unknown_actors_are_not_found_while_the_rest_succeed(
    simulator: Simulator, bluesky: BlueskyAdapter
) -> None:
    known = simulator.targets(simulator.accounts(BLUESKY)[:3])
    missing_did = target("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "gone.bsky.social")
    missing_handle = target("nobody.bsky.social")
    by_handle = target("SMA-News.bsky.social")
    malformed = target("user(0)")
    result = await bluesky.fetch([*known, missing_did, missing_handle, by_handle, malformed])
    assert [result.items[t.job_id].outcome for t in known] == [Outcome.SUCCESS] * 3
    for t in (missing_did, missing_handle, malformed):
        assert result.items[t.job_id].outcome is Outcome.NOT_FOUND
    assert result.items[by_handle.job_id].outcome is Outcome.SUCCESS
    assert result.api_calls == 1


async def test_429_fails_the_whole_batch_as_rate_limited(simulator: Simulator, bluesky: BlueskyAdapter) -> None:
    await simulator.fault(platform="bluesky", kind="rate_limit", retry_after_seconds=45)
    result = await bluesky.fetch(simulator.targets(simulator.accounts(BLUESKY)))
    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 30}
    assert result.api_calls == 1  # the second chunk is not attempted
    assert result.rate_limit == RateLimitState(3000, 0, simulator.clock.now() + timedelta(seconds=45))
    await simulator.fault(platform="bluesky", kind="rate_limit", retry_after_seconds=45)
    with pytest.raises(RateLimited) as caught:
        await bluesky.resolve("bsky.app")
    assert caught.value.retry_after == 45.0


async def test_5xx_is_retried_a_bounded_number_of_times(simulator: Simulator, bluesky: BlueskyAdapter) -> None:
    await simulator.fault(platform="bluesky", kind="server_error", status=502, count=10)
    result = await bluesky.fetch(simulator.targets(simulator.accounts(BLUESKY)[:5]))
    assert _outcomes(result.items) == {Outcome.FAILED: 5}
    assert result.api_calls == 1 + MAX_RETRIES
    assert len(simulator.sleeps) == MAX_RETRIES
    await simulator.clear_faults()
    await simulator.fault(platform="bluesky", kind="server_error", count=1)
    recovered = await bluesky.fetch(simulator.targets(simulator.accounts(BLUESKY)[:5]))
    assert _outcomes(recovered.items) == {Outcome.SUCCESS: 5}
    assert recovered.api_calls == 2


async def test_timeout(simulator: Simulator, bluesky: BlueskyAdapter) -> None:
    await simulator.fault(platform="bluesky", kind="timeout", delay_seconds=10)
    result = await bluesky.fetch(simulator.targets(simulator.accounts(BLUESKY)[:2]))
    assert _outcomes(result.items) == {Outcome.TIMEOUT: 2}
    assert result.api_calls == 1
    await simulator.fault(platform="bluesky", kind="timeout", delay_seconds=10)
    with pytest.raises(DependencyTimeout):
        await bluesky.resolve("bsky.app")


async def test_connection_refused_is_retried_then_failed(simulator: Simulator) -> None:
    closed = f"http://127.0.0.1:{free_port()}/xrpc"
    adapter = BlueskyAdapter(simulator.platform_settings(bluesky_api_base=closed), sleep=simulator.record_sleep)
    try:
        result = await adapter.fetch([target("bsky.app")])
        assert _outcomes(result.items) == {Outcome.FAILED: 1}
        assert result.api_calls == 1 + MAX_RETRIES
        with pytest.raises(UpstreamUnavailable):
            await adapter.resolve("bsky.app")
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    "account",
    ["bsky.app", "@bsky.app", "BSKY.APP", "https://bsky.app/profile/bsky.app",
     "bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur", "did:plc:z72i7hdynmk6r22z27h6tvur"],
)
async def test_resolve_by_handle_url_or_did(bluesky: BlueskyAdapter, account: str) -> None:
    assert await bluesky.resolve(account) == BSKY_APP


async def test_resolve_a_bare_name_as_a_bsky_social_handle(simulator: Simulator, bluesky: BlueskyAdapter) -> None:
    account = simulator.ctx.world.by_handle(BLUESKY, "sma-demo.bsky.social")
    assert account is not None
    assert await bluesky.resolve("sma-demo") == ResolvedAccount(BLUESKY, account.id, account.handle, "SMA Demo")


@pytest.mark.parametrize("account", ["nobody.bsky.social", "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "not a handle"])
async def test_resolve_unknown_is_not_found(bluesky: BlueskyAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await bluesky.resolve(account)
