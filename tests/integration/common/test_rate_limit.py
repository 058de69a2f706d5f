"""The shared budgets against a real Redis: atomic across concurrent callers, a token bucket that
refills with time, fixed windows that line up with the platform's own, corrected by what the
platform reports, and holds that only ever grow."""

import asyncio

import pytest

from sma_common.rate_limit import Budget, Hold, SharedRateLimiter
from sma_common.redis import RedisClient

T0 = 1_800_000_000.0  # a multiple of 900: the start of a 15-minute window
QUARTER = Budget.fixed_window(calls=300, window_seconds=900)


# --- the token bucket (Twitch) ---


async def test_concurrent_replicas_never_spend_more_than_a_bucket(limiter: SharedRateLimiter) -> None:
    budget = Budget.token_bucket(calls=20, window_seconds=60)
    results = await asyncio.gather(*(limiter.acquire("twitch", "app", budget, T0) for _ in range(50)))
    assert sum(r.granted for r in results) == 20
    denied = [r for r in results if not r.granted]
    # The next point comes back after 60 / 20 = 3 s.
    assert {round(r.wait_seconds, 6) for r in denied} == {3.0}
    assert all(r.tokens_left == 0 and r.held_for is None for r in denied)


async def test_a_bucket_refills_continuously_up_to_its_capacity(limiter: SharedRateLimiter) -> None:
    budget = Budget.token_bucket(calls=2, window_seconds=4)  # half a call a second
    assert (await limiter.acquire("twitch", "app", budget, T0)).granted
    assert (await limiter.acquire("twitch", "app", budget, T0)).granted
    denied = await limiter.acquire("twitch", "app", budget, T0)
    assert not denied.granted and denied.wait_seconds == pytest.approx(2.0)
    half = await limiter.acquire("twitch", "app", budget, T0 + 1)
    assert not half.granted and half.wait_seconds == pytest.approx(1.0) and half.tokens_left == pytest.approx(0.5)
    assert (await limiter.acquire("twitch", "app", budget, T0 + 2)).granted
    # A long idle spell fills the bucket, never past its capacity.
    later = [await limiter.acquire("twitch", "app", budget, T0 + 1000) for _ in range(3)]
    assert [r.granted for r in later] == [True, True, False]


async def test_a_bucket_takes_the_platforms_lower_remaining_and_ignores_its_reset(limiter: SharedRateLimiter) -> None:
    budget = Budget.token_bucket(calls=800, window_seconds=60)
    assert (await limiter.acquire("twitch", "app", budget, T0)).granted
    await limiter.observe("twitch", "app", budget, T0, remaining=1, reset_at=T0 + 60)
    state = await limiter.state("twitch", "app")
    assert state.tokens == 1 and state.window_end is None
    assert (await limiter.acquire("twitch", "app", budget, T0)).granted
    denied = await limiter.acquire("twitch", "app", budget, T0)
    assert not denied.granted and denied.wait_seconds == pytest.approx(60 / 800)


# --- fixed windows (X, Reddit, Bluesky, Mastodon, YouTube) ---


async def test_concurrent_replicas_never_spend_more_than_a_window(limiter: SharedRateLimiter) -> None:
    budget = Budget.fixed_window(calls=20, window_seconds=900)
    results = await asyncio.gather(*(limiter.acquire("x", "app", budget, T0 + 100) for _ in range(50)))
    assert sum(r.granted for r in results) == 20
    assert {r.wait_seconds for r in results if not r.granted} == {900.0}


async def test_a_window_is_full_again_at_its_end(limiter: SharedRateLimiter) -> None:
    budget = Budget.fixed_window(calls=3, window_seconds=60)
    assert [(await limiter.acquire("reddit", "app", budget, T0)).granted for _ in range(3)] == [True] * 3
    spent = await limiter.acquire("reddit", "app", budget, T0 + 10)
    assert not spent.granted and spent.wait_seconds == 50
    # No refill within the window, however long we wait.
    assert not (await limiter.acquire("reddit", "app", budget, T0 + 59.5)).granted
    again = [await limiter.acquire("reddit", "app", budget, T0 + 60) for _ in range(4)]
    assert [r.granted for r in again] == [True, True, True, False]
    assert (await limiter.state("reddit", "app")).window_end == T0 + 120


async def test_platform_headers_lower_our_count_and_zero_remaining_waits_for_the_reset(
    limiter: SharedRateLimiter,
) -> None:
    assert (await limiter.acquire("x", "bearer", QUARTER, T0)).granted
    await limiter.observe("x", "bearer", QUARTER, T0, remaining=3, reset_at=T0 + 900)
    assert (await limiter.state("x", "bearer")).tokens == 3
    # A higher figure from the platform never raises what we know is spent.
    await limiter.observe("x", "bearer", QUARTER, T0, remaining=500)
    assert (await limiter.state("x", "bearer")).tokens == 3
    await limiter.observe("x", "bearer", QUARTER, T0 + 1, remaining=0, reset_at=T0 + 900)
    spent = await limiter.acquire("x", "bearer", QUARTER, T0 + 2)
    assert not spent.granted and spent.wait_seconds == 898 and spent.held_for is None
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 900)).granted


async def test_the_platforms_reset_replaces_our_guessed_window_end(limiter: SharedRateLimiter) -> None:
    # Our first call falls 100 s into the platform's window: we guess the window ends 900 s later,
    # the platform says it ends at its next quarter hour, 800 s later.
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 100)).granted
    assert (await limiter.state("x", "bearer")).window_end == T0 + 1000
    await limiter.observe("x", "bearer", QUARTER, T0 + 100, remaining=0, reset_at=T0 + 900)
    state = await limiter.state("x", "bearer")
    assert state.window_end == T0 + 900 and state.tokens == 0
    spent = await limiter.acquire("x", "bearer", QUARTER, T0 + 200)
    assert not spent.granted and spent.wait_seconds == 700
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 900)).granted
    # The window we start at the platform's reset is a guess again, and its reset replaces it
    # even when we roll over a little late.
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 905)).granted
    await limiter.observe("x", "bearer", QUARTER, T0 + 905, remaining=290, reset_at=T0 + 1800)
    assert (await limiter.state("x", "bearer")).window_end == T0 + 1800


async def test_a_later_platform_reset_moves_our_window_end(limiter: SharedRateLimiter) -> None:
    assert (await limiter.acquire("bluesky", "public", QUARTER, T0)).granted
    await limiter.observe("bluesky", "public", QUARTER, T0, remaining=10, reset_at=T0 + 950)
    assert (await limiter.state("bluesky", "public")).window_end == T0 + 950


async def test_a_reset_in_the_platforms_next_window_starts_it_full(limiter: SharedRateLimiter) -> None:
    # A call admitted at the end of a spent window is answered by the platform's next window
    # (a reply crossing the boundary, or a platform clock a little ahead of ours): the
    # platform's fresh count replaces our spent one instead of stalling a whole window.
    assert (await limiter.acquire("x", "bearer", QUARTER, T0)).granted
    await limiter.observe("x", "bearer", QUARTER, T0, remaining=0, reset_at=T0 + 900)
    assert not (await limiter.acquire("x", "bearer", QUARTER, T0 + 899)).granted
    await limiter.observe("x", "bearer", QUARTER, T0 + 899.5, remaining=299, reset_at=T0 + 1800)
    state = await limiter.state("x", "bearer")
    assert state.tokens == 299 and state.window_end == T0 + 1800
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 899.6)).granted


async def test_stale_resets_are_ignored(limiter: SharedRateLimiter) -> None:
    assert (await limiter.acquire("x", "bearer", QUARTER, T0)).granted
    await limiter.observe("x", "bearer", QUARTER, T0, remaining=5, reset_at=T0 + 900)
    # The next window begins; then a reply sent in the previous one arrives, late.
    assert (await limiter.acquire("x", "bearer", QUARTER, T0 + 901)).granted
    await limiter.observe("x", "bearer", QUARTER, T0 + 902, remaining=0, reset_at=T0 + 900)
    state = await limiter.state("x", "bearer")
    assert state.tokens == 299 and state.window_end == T0 + 1801
    # The platform confirms the new window's end; a reply that names an older, still future,
    # end (more than 2 s before ours) is ignored with its count; within 2 s it is rounding.
    await limiter.observe("x", "bearer", QUARTER, T0 + 903, remaining=250, reset_at=T0 + 1800)
    await limiter.observe("x", "bearer", QUARTER, T0 + 904, remaining=3, reset_at=T0 + 1500)
    state = await limiter.state("x", "bearer")
    assert state.tokens == 250 and state.window_end == T0 + 1800
    await limiter.observe("x", "bearer", QUARTER, T0 + 905, remaining=200, reset_at=T0 + 1799)
    state = await limiter.state("x", "bearer")
    assert state.tokens == 200 and state.window_end == T0 + 1799
    # A reset at or before now is never a window to wait for.
    await limiter.observe("x", "bearer", QUARTER, T0 + 906, remaining=0, reset_at=T0 + 906)
    assert (await limiter.state("x", "bearer")).tokens == 200


async def test_the_callers_window_end_is_used_for_a_calendar_quota(limiter: SharedRateLimiter) -> None:
    # YouTube's quota ends at midnight Pacific, which the caller computes: not `now + window`.
    daily = Budget.fixed_window(calls=2, window_seconds=86_400)
    midnight = T0 + 3_600
    assert (await limiter.acquire("youtube", "key", daily, T0, window_end=midnight)).granted
    assert (await limiter.state("youtube", "key")).window_end == midnight
    assert (await limiter.acquire("youtube", "key", daily, T0 + 10, window_end=midnight)).granted
    spent = await limiter.acquire("youtube", "key", daily, T0 + 600, window_end=midnight)
    assert not spent.granted and spent.wait_seconds == 3_000
    next_midnight = midnight + 86_400
    renewed = await limiter.acquire("youtube", "key", daily, midnight, window_end=next_midnight)
    assert renewed.granted and renewed.tokens_left == 1
    assert (await limiter.state("youtube", "key")).window_end == next_midnight


async def test_the_cost_of_a_call_is_spent_at_once(limiter: SharedRateLimiter) -> None:
    daily = Budget.fixed_window(calls=100, window_seconds=86_400)
    assert (await limiter.acquire("youtube", "key", daily, T0, cost=99)).tokens_left == 1
    assert not (await limiter.acquire("youtube", "key", daily, T0, cost=2)).granted
    assert (await limiter.acquire("youtube", "key", daily, T0, cost=1)).granted


# --- holds ---


async def test_a_hold_refuses_every_replica_until_its_end_and_only_grows(limiter: SharedRateLimiter) -> None:
    await limiter.hold("reddit", "app", T0 + 120, "rate_limited")
    replicas = await asyncio.gather(*(limiter.acquire("reddit", "app", QUARTER, T0 + 60) for _ in range(50)))
    assert not any(r.granted for r in replicas)
    assert {(r.wait_seconds, r.held_for) for r in replicas} == {(60.0, "rate_limited")}
    # An earlier end reported later never shortens the hold, nor changes its reason.
    await limiter.hold("reddit", "app", T0 + 90, "auth_error")
    state = await limiter.state("reddit", "app")
    assert (state.frozen_until, state.frozen_reason) == (T0 + 120, "rate_limited")
    # A later one extends it, with its own reason.
    await limiter.hold("reddit", "app", T0 + 300, "auth_error")
    held = await limiter.acquire("reddit", "app", QUARTER, T0 + 200)
    assert not held.granted and held.held_for == "auth_error" and held.wait_seconds == 100
    # A hold spends nothing: the budget is whole when it ends.
    free = await limiter.acquire("reddit", "app", QUARTER, T0 + 300)
    assert free.granted and free.held_for is None and free.tokens_left == 299


async def test_holds_lists_the_active_holds_with_their_reasons(limiter: SharedRateLimiter, redis: RedisClient) -> None:
    await limiter.hold("youtube", "key-b", T0 + 86_400, "quota")
    await limiter.hold("youtube", "key-a", T0 + 60, "rate_limited")
    await limiter.hold("youtube", "key-c", T0 + 300, "auth_error")
    await limiter.hold("twitch", "app", T0 + 30, "rate_limited")
    assert await limiter.holds("youtube", T0) == [
        Hold("key-a", T0 + 60, "rate_limited"),
        Hold("key-c", T0 + 300, "auth_error"),
        Hold("key-b", T0 + 86_400, "quota"),
    ]
    assert await limiter.holds("youtube", T0 + 60) == [
        Hold("key-c", T0 + 300, "auth_error"), Hold("key-b", T0 + 86_400, "quota"),
    ]
    # Ended holds are dropped from the index, not merely filtered out.
    assert await redis.client.zcard(redis.key("ratelimit-holds", "youtube")) == 2
    assert await limiter.holds("twitch", T0) == [Hold("app", T0 + 30, "rate_limited")]
    assert await limiter.holds("mastodon", T0) == []


async def test_a_grown_hold_is_listed_once_with_its_new_end(limiter: SharedRateLimiter) -> None:
    await limiter.hold("x", "bearer", T0 + 60, "rate_limited")
    await limiter.hold("x", "bearer", T0 + 300, "auth_error")
    await limiter.hold("x", "bearer", T0 + 100, "rate_limited")
    assert await limiter.holds("x", T0) == [Hold("bearer", T0 + 300, "auth_error")]


# --- isolation ---


async def test_budgets_are_per_platform_and_scope(limiter: SharedRateLimiter) -> None:
    bucket = Budget.token_bucket(calls=1, window_seconds=60)
    assert (await limiter.acquire("twitch", "app-a", bucket, T0)).granted
    assert not (await limiter.acquire("twitch", "app-a", bucket, T0)).granted
    assert (await limiter.acquire("twitch", "app-b", bucket, T0)).granted
    assert (await limiter.acquire("youtube", "app-a", bucket, T0)).granted

    window = Budget.fixed_window(calls=1, window_seconds=300)
    await limiter.observe("mastodon", "mastodon.social", window, T0, remaining=0, reset_at=T0 + 300)
    assert not (await limiter.acquire("mastodon", "mastodon.social", window, T0)).granted
    assert (await limiter.acquire("mastodon", "legacy.example", window, T0)).granted

    await limiter.hold("x", "token-a", T0 + 600, "auth_error")
    assert (await limiter.acquire("x", "token-b", window, T0)).granted
    assert (await limiter.acquire("reddit", "token-a", window, T0)).granted
    assert await limiter.holds("reddit", T0) == []
    assert [h.scope for h in await limiter.holds("x", T0)] == ["token-a"]


async def test_the_state_of_an_unused_budget_is_empty(limiter: SharedRateLimiter) -> None:
    state = await limiter.state("bluesky", "public")
    assert state.tokens is None and state.capacity is None and state.window_end is None
    assert state.frozen_until is None and state.frozen_reason is None
