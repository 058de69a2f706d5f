"""Acceptance per platform (Twitch, YouTube, X, Reddit, Bluesky, Mastodon) against the simulator,
through the collector's real `CommandHandler`, adapters, Redis budgets and Postgres: a full
batch, unknown ids, a rate limit in the platform's own format, an expired or rejected
credential, a hidden or missing count, and a 5xx burst. Each checks the execution statuses, the
points (equal to what the simulator served, never a 0 for a count it did not serve) and the API
calls the batching promises, both at the simulator and in `job_executions.api_calls`.

Mastodon accounts live on two instances: `mastodon.social` (4.3+, the 40-id batch route) and
`legacy.example` (no batch route: one 404 probe, then one call per account, remembered by the
adapter). Mastodon faults are scripted on mastodon.social only, so every Mastodon scenario also
checks that the other instance is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from sma_common.platforms import Platform
from sma_simulator.profiles.mastodon import instance_of
from sma_simulator.profiles.reddit import active_users_missing, is_user
from sma_simulator.profiles.x import is_protected
from sma_simulator.profiles.youtube import subscribers_hidden
from sma_simulator.state import SimAccount
from tests.integration.collector.platform_rig import Rig, Run, open_rig

TWITCH, YOUTUBE, X, REDDIT, BLUESKY, MASTODON = (
    Platform.TWITCH, Platform.YOUTUBE, Platform.X, Platform.REDDIT, Platform.BLUESKY, Platform.MASTODON,
)
ALL = pytest.mark.parametrize("platform", list(Platform), ids=str)
GET_PROFILES = "app.bsky.actor.getProfiles"
MS_BATCH = "mastodon.social/api/v1/accounts"
LEGACY_BATCH = "legacy.example/api/v1/accounts"
LEGACY_ONE = "legacy.example/api/v1/accounts/:id"
USER_DATA = "api/user_data_by_account_ids"  # Reddit users, 100 fullnames a call
# Faults hit every API endpoint of the platform, except Mastodon's: mastodon.social's batch route.
FAULT_AT: dict[Platform, dict[str, object]] = {MASTODON: {"endpoint": MS_BATCH}}

# The calls `few(platform)` costs a fresh adapter: Twitch /users and /streams per 100 ids plus
# /channels/followers per existing user; one call per 50 (YouTube), 100 (X, Reddit /api/info for
# subreddits and /api/user_data_by_account_ids for users), 25 (Bluesky) or 40 ids per instance
# (Mastodon 4.3+).
FEW_CALLS: dict[Platform, dict[str, int]] = {
    TWITCH: {"users": 1, "streams": 1, "channels/followers": 3},
    YOUTUBE: {"channels": 1},
    X: {"users": 1},
    REDDIT: {"api/info": 1},
    BLUESKY: {GET_PROFILES: 1},
    MASTODON: {MS_BATCH: 1, LEGACY_BATCH: 1, LEGACY_ONE: 2},
}


@pytest.fixture
async def rig(db: asyncpg.Pool, redis_url: str, redis_prefix: str) -> AsyncIterator[Rig]:
    async with open_rig(db, redis_url, redis_prefix) as r:
        yield r


def few(rig: Rig, platform: Platform) -> list[SimAccount]:
    """Three ordinary accounts; for Mastodon two on each instance."""
    if platform is MASTODON:
        return [*on_instance(rig, "mastodon.social")[:2], *on_instance(rig, "legacy.example")[:2]]
    return rig.generated(platform)[:3]


def on_instance(rig: Rig, instance: str) -> list[SimAccount]:
    return rig.generated(MASTODON, lambda a: instance_of(a) == instance)


def faulted(platform: Platform, external_id: str) -> bool:
    """Whether a fault scripted with `FAULT_AT` reaches this account's calls."""
    return platform is not MASTODON or external_id.startswith("mastodon.social:")


def assert_points_are_what_was_served(run: Run) -> None:
    """Every successful job stored exactly the figures the simulator served for it, and each
    execution row counts its own points."""
    succeeded = run.with_status("success")
    assert run.points == {k: v for k, v in run.served.items() if k[0] in succeeded}
    assert all(run.metrics_of(ext) for ext in succeeded), "a successful job without any point"
    assert run.points_written == {ext: len(run.metrics_of(ext)) for ext in run.statuses}


def assert_calls(run: Run, expected: dict[str, int]) -> None:
    """The requests that reached the simulator, and the command's `api_calls` (the same number)."""
    assert run.calls == expected
    assert run.api_calls == {sum(expected.values())}


# -- a full batch ------------------------------------------------------------------------------

def full_batch(rig: Rig, platform: Platform) -> tuple[list[SimAccount], dict[str, int]]:
    """100 accounts (a command's maximum) and the calls the batching promises for them."""
    match platform:
        case Platform.TWITCH:
            return rig.generated(TWITCH)[:100], {"users": 1, "streams": 1, "channels/followers": 100}
        case Platform.YOUTUBE:
            return rig.generated(YOUTUBE)[:100], {"channels": 2}
        case Platform.X:
            return rig.generated(X)[:100], {"users": 1}
        case Platform.REDDIT:
            users = [rig.demo(REDDIT, "u/smademo_user"), rig.demo(REDDIT, "u/watchful1")]
            return [*rig.generated(REDDIT)[:98], *users], {"api/info": 1, USER_DATA: 1}
        case Platform.BLUESKY:
            return rig.generated(BLUESKY)[:100], {GET_PROFILES: 4}
        case Platform.MASTODON:
            accounts = [*on_instance(rig, "mastodon.social")[:80], *on_instance(rig, "legacy.example")[:20]]
            return accounts, {MS_BATCH: 2, LEGACY_BATCH: 1, LEGACY_ONE: 20}
    raise AssertionError(platform)


@ALL
async def test_a_full_batch_succeeds_in_the_calls_the_batching_promises(rig: Rig, platform: Platform) -> None:
    accounts, promised = full_batch(rig, platform)
    run = await rig.run(await rig.command(platform, accounts))

    assert run.statuses == {a.id: "success" for a in accounts}
    assert_points_are_what_was_served(run)
    assert_calls(run, promised)
    assert run.token_requests == (1 if platform in (TWITCH, REDDIT) else 0)


# -- unknown ids -------------------------------------------------------------------------------

def unknown_ids(rig: Rig, platform: Platform) -> tuple[list[SimAccount], list[tuple[str, str]], dict[str, int]]:
    """Known accounts, ids of the platform's shape the simulator does not know (with handles),
    and the calls: unknown ids ride in the same batch call."""
    match platform:
        case Platform.TWITCH:
            # No /channels/followers call for the users /users did not return.
            return few(rig, TWITCH), [("999999990", "ghost_one"), ("999999991", "ghost_two")], FEW_CALLS[TWITCH]
        case Platform.YOUTUBE:
            return few(rig, YOUTUBE), [("UC" + "A" * 22, "@ghostone"), ("UC" + "B" * 22, "@ghosttwo")], {"channels": 1}
        case Platform.X:
            # A made-up id, and one X knows as suspended (a Forbidden entry in errors[]).
            unknown = [("1000000000000000001", "ghost"), ("1319287761048723458", "sma_suspended")]
            return few(rig, X), unknown, {"users": 1}
        case Platform.REDDIT:
            private = rig.demo(REDDIT, "smaprivate")
            unknown = [("t5_zzzzzz1", "nosuchsub1"), (private.id, private.handle), ("t2_zzzzzz1", "u/nosuchuser1")]
            known = [*rig.generated(REDDIT)[:3], rig.demo(REDDIT, "u/smademo_user")]
            return known, unknown, {"api/info": 1, USER_DATA: 1}
        case Platform.BLUESKY:
            return few(rig, BLUESKY), [("did:plc:" + "a" * 24, "ghost-one.bsky.social"),
                                       ("did:plc:" + "b" * 24, "ghost-two.bsky.social")], {GET_PROFILES: 1}
        case Platform.MASTODON:
            unknown = [("mastodon.social:100000000000000001", "ghost@mastodon.social"),
                       ("legacy.example:100000000000000002", "ghost@legacy.example")]
            return few(rig, MASTODON), unknown, {MS_BATCH: 1, LEGACY_BATCH: 1, LEGACY_ONE: 3}
    raise AssertionError(platform)


@ALL
async def test_unknown_ids_are_not_found_and_the_rest_of_the_batch_succeeds(rig: Rig, platform: Platform) -> None:
    known, unknown, promised = unknown_ids(rig, platform)
    assert all(rig.world.by_id(platform, ext) is None for ext, handle in unknown if handle != "smaprivate")
    run = await rig.run(await rig.command(platform, [*known, *unknown]))

    assert run.statuses == {a.id: "success" for a in known} | {ext: "not_found" for ext, _ in unknown}
    assert_points_are_what_was_served(run)
    assert_calls(run, promised)


# -- a rate limit ------------------------------------------------------------------------------

# The 429 in each platform's own format: Twitch `Ratelimit-Reset` (epoch), X problem+json with
# `x-rate-limit-reset`, Reddit's HTML "whoa there" page with only `Retry-After` (the fault gives
# one), Bluesky XRPC `RateLimitExceeded` with `ratelimit-reset`, Mastodon `X-RateLimit-Reset`
# (ISO-8601), YouTube a 403 quotaExceeded (no headers; held until midnight Pacific).
RATE_LIMIT_FIRST_CALLS: dict[Platform, dict[str, int]] = {
    TWITCH: {"users": 1},
    YOUTUBE: {"channels": 1},
    X: {"users": 1},
    REDDIT: {"api/info": 1},  # the batch halts: no user_data_by_account_ids call
    BLUESKY: {GET_PROFILES: 1},
    MASTODON: {MS_BATCH: 1, LEGACY_BATCH: 1, LEGACY_ONE: 2},
}


@ALL
async def test_a_rate_limit_ends_the_batch_and_the_next_command_waits_without_a_call(
    rig: Rig, platform: Platform
) -> None:
    accounts = [*few(rig, platform), *([rig.demo(REDDIT, "u/smademo_user")] if platform is REDDIT else [])]
    command = await rig.command(platform, accounts)
    await rig.fault(platform, "rate_limit", retry_after_seconds=120, **FAULT_AT.get(platform, {}))

    first = await rig.run(command)
    limited = {a.id for a in accounts if faulted(platform, a.id)}
    assert first.with_status("rate_limited") == limited
    assert first.with_status("success") == {a.id for a in accounts} - limited
    assert_points_are_what_was_served(first)
    assert_calls(first, RATE_LIMIT_FIRST_CALLS[platform])
    # The limited jobs are next due when the platform takes calls again (the fault's reset in
    # 120 s; YouTube's quota at midnight Pacific), not at their interval; the others keep theirs.
    next_runs = {r["external_id"]: r["due_in"] for r in await rig.db.fetch(
        "SELECT a.external_id, extract(epoch FROM j.next_run_at - now()) AS due_in FROM monitoring_jobs j "
        "JOIN accounts a ON a.id = j.account_id")}
    for external_id in limited:
        assert 60 < next_runs[external_id] <= 86_400 + 65, (external_id, next_runs[external_id])
    for external_id in {a.id for a in accounts} - limited:
        assert next_runs[external_id] <= 0

    # The fault is used up, so a call now would succeed: the shared budget holds it back instead.
    second = await rig.run(rig.again(command))
    assert second.with_status("rate_limited") == limited
    assert second.with_status("success") == {a.id for a in accounts} - limited
    assert_points_are_what_was_served(second)
    assert_calls(second, {LEGACY_ONE: 2} if platform is MASTODON else {})


# -- an expired or rejected credential --------------------------------------------------------

@pytest.mark.parametrize("platform", [TWITCH, REDDIT], ids=str)
async def test_an_expired_app_token_is_renewed_once_and_the_batch_succeeds(rig: Rig, platform: Platform) -> None:
    accounts = few(rig, platform)
    command = await rig.command(platform, accounts)
    await rig.fault(platform, "unauthorized")

    first = await rig.run(command)
    assert first.statuses == {a.id: "success" for a in accounts}
    assert_points_are_what_was_served(first)
    # The refused call is sent again with a new token; the token request is no API call.
    first_call = "users" if platform is TWITCH else "api/info"
    assert_calls(first, FEW_CALLS[platform] | {first_call: 2})
    assert first.token_requests == 2

    second = await rig.run(rig.again(command))
    assert second.statuses == {a.id: "success" for a in accounts}
    assert_calls(second, FEW_CALLS[platform])
    assert second.token_requests == 0


@pytest.mark.parametrize("platform", [YOUTUBE, X, BLUESKY, MASTODON], ids=str)
async def test_rejected_credentials_are_auth_error_and_held_without_calling_again(
    rig: Rig, platform: Platform
) -> None:
    """YouTube (API key) and X (bearer token) have static credentials: a rejection is auth_error
    and the shared budget holds the credential, so the next command calls nobody. Bluesky and
    Mastodon need none: a 401 there is auth_error too (Mastodon: that instance only)."""
    accounts = few(rig, platform)
    command = await rig.command(platform, accounts)
    await rig.fault(platform, "unauthorized", **FAULT_AT.get(platform, {}))

    first = await rig.run(command)
    rejected = {a.id for a in accounts if faulted(platform, a.id)}
    assert first.with_status("auth_error") == rejected
    assert first.with_status("success") == {a.id for a in accounts} - rejected
    assert_points_are_what_was_served(first)
    assert not any(ext in rejected for ext, _ in first.points)
    assert_calls(first, FEW_CALLS[platform])

    second = await rig.run(rig.again(command))
    assert second.with_status("auth_error") == rejected
    assert second.with_status("success") == {a.id for a in accounts} - rejected
    assert_points_are_what_was_served(second)
    assert_calls(second, {LEGACY_ONE: 2} if platform is MASTODON else {})


# -- a hidden or missing count ----------------------------------------------------------------

def keeps_live_state(rig: Rig, account: SimAccount, now: datetime, live: bool) -> bool:
    """Whether the Twitch channel keeps its live state for the next half minute."""
    return all((rig.world.stream(account, now + timedelta(seconds=s)) is not None) == live for s in range(-2, 30))


def hidden_counts(rig: Rig, platform: Platform) -> tuple[dict[str, set[str]], dict[str, int]]:
    """Accounts with a count the platform leaves out, next to ones without: external id → the
    metrics stored for it; and the calls."""
    match platform:
        case Platform.TWITCH:
            # Twitch hides nothing; an offline channel has no viewer count to store.
            now = datetime.now(UTC)
            offline = rig.generated(TWITCH, lambda a: keeps_live_state(rig, a, now, live=False))[:2]
            live = rig.generated(TWITCH, lambda a: keeps_live_state(rig, a, now, live=True))[:1]
            return ({a.id: {"followers", "is_live"} for a in offline}
                    | {a.id: {"followers", "is_live", "live_viewers"} for a in live}), FEW_CALLS[TWITCH]
        case Platform.YOUTUBE:
            hidden = rig.generated(YOUTUBE, subscribers_hidden)[:2]
            shown = rig.generated(YOUTUBE, lambda a: not subscribers_hidden(a))[:1]
            return ({a.id: {"views", "videos"} for a in hidden}
                    | {a.id: {"subscribers", "views", "videos"} for a in shown}), {"channels": 1}
        case Platform.X:
            protected = rig.generated(X, is_protected)[:2]
            public = rig.generated(X, lambda a: not is_protected(a))[:1]
            return ({a.id: {"followers", "following", "posts"} for a in protected}
                    | {a.id: {"followers", "following", "posts", "listed"} for a in public}), {"users": 1}
        case Platform.REDDIT:
            without = rig.generated(REDDIT, lambda a: not is_user(a) and active_users_missing(a))[:2]
            with_active = rig.generated(REDDIT, lambda a: not is_user(a) and not active_users_missing(a))[:1]
            # The user batch serves no total karma: no karma_total point.
            user = rig.demo(REDDIT, "u/smademo_user")
            return ({a.id: {"subscribers"} for a in without}
                    | {a.id: {"subscribers", "active_users"} for a in with_active}
                    | {user.id: {"karma_link", "karma_comment"}}), {"api/info": 1, USER_DATA: 1}
        case Platform.BLUESKY:
            no_followers, no_posts, complete = rig.generated(BLUESKY)[:3]
            rig.leave_out_bluesky_counts(no_followers.id, "followers")
            rig.leave_out_bluesky_counts(no_posts.id, "posts")
            return {no_followers.id: {"following", "posts"}, no_posts.id: {"followers", "following"},
                    complete.id: {"followers", "following", "posts"}}, {GET_PROFILES: 1}
        case Platform.MASTODON:
            quiet, ordinary = rig.demo(MASTODON, "smaquiet@mastodon.social"), on_instance(rig, "mastodon.social")[0]
            return {quiet.id: {"posts"}, ordinary.id: {"followers", "following", "posts"}}, {MS_BATCH: 1}
    raise AssertionError(platform)


@ALL
async def test_a_hidden_or_missing_count_is_no_point_never_a_zero(rig: Rig, platform: Platform) -> None:
    expected, promised = hidden_counts(rig, platform)
    assert len({frozenset(m) for m in expected.values()}) >= 2, "both kinds of account are needed"
    accounts = [a for a in rig.world.accounts(platform) if a.id in expected]
    run = await rig.run(await rig.command(platform, accounts))

    assert run.statuses == {ext: "success" for ext in expected}
    assert {ext: run.metrics_of(ext) for ext in expected} == expected
    assert_points_are_what_was_served(run)
    assert_calls(run, promised)
    if platform is TWITCH:
        assert {ext: run.points[(ext, "is_live")] for ext in expected} == {
            ext: 1.0 if "live_viewers" in metrics else 0.0 for ext, metrics in expected.items()
        }


# -- a 5xx burst -------------------------------------------------------------------------------

@ALL
async def test_a_5xx_burst_is_retried_and_the_retries_are_counted(rig: Rig, platform: Platform) -> None:
    """Two 5xx in a row fit in the default two retries: all succeed, api_calls counts all three."""
    accounts = few(rig, platform)
    await rig.fault(platform, "server_error", count=2, status=503, **FAULT_AT.get(platform, {}))
    run = await rig.run(await rig.command(platform, accounts))

    assert run.statuses == {a.id: "success" for a in accounts}
    assert_points_are_what_was_served(run)
    first_call = {TWITCH: "users", MASTODON: MS_BATCH}.get(platform) or next(iter(FEW_CALLS[platform]))
    assert_calls(run, FEW_CALLS[platform] | {first_call: 3})
