from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sma_common.platforms import Platform
from sma_simulator.platforms import SIMULATORS
from sma_simulator.state import SIMULATED_PLATFORMS, World, derived_id, generated_handle

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_demo_accounts_come_first_then_generated_ones_up_to_the_count() -> None:
    world = World(seed=1, accounts_per_platform=6)
    assert [a.handle for a in world.accounts(Platform.TWITCH)] == [
        "twitchdev", "sma_demo_speedrun", "sma_demo_music", "sim_user_0001", "sim_user_0002", "sim_user_0003"]
    assert [a.handle for a in world.accounts(Platform.BLUESKY)][:4] == [
        "bsky.app", "sma-demo.bsky.social", "sma-news.bsky.social", "sim-0001.bsky.social"]
    assert world.by_handle(Platform.TWITCH, "TwitchDev") == world.by_id(Platform.TWITCH, "141981764")
    assert world.by_id(Platform.BLUESKY, "did:plc:z72i7hdynmk6r22z27h6tvur") is not None
    assert len(World(seed=1, accounts_per_platform=0).accounts(Platform.TWITCH)) == 3


def test_ids_depend_on_the_handle_only() -> None:
    assert derived_id(Platform.TWITCH, "sim_user_0001") == derived_id(Platform.TWITCH, "sim_user_0001")
    assert derived_id(Platform.TWITCH, "sim_user_0001").isdigit()
    assert derived_id(Platform.BLUESKY, "sim-0001.bsky.social").startswith("did:plc:")
    assert len(derived_id(Platform.BLUESKY, "sim-0001.bsky.social")) == len("did:plc:") + 24
    ids_a = [a.id for a in World(1, 20).accounts(Platform.TWITCH)]
    ids_b = [a.id for a in World(2, 20).accounts(Platform.TWITCH)]
    assert ids_a == ids_b
    assert generated_handle(Platform.BLUESKY, 7) == "sim-0007.bsky.social"


def test_figures_are_a_pure_function_of_seed_account_and_second() -> None:
    a, b = World(7, 10), World(7, 10)
    other_seed = World(8, 10)
    for account in a.accounts(Platform.BLUESKY):
        assert a.metrics(account, T0) == b.metrics(account, T0)
        assert a.metrics(account, T0) == a.metrics(account, T0 + timedelta(milliseconds=900))
    assert [a.followers(x, T0) for x in a.accounts(Platform.TWITCH)] != [
        other_seed.followers(x, T0) for x in other_seed.accounts(Platform.TWITCH)]


def test_followers_grow_over_hours_despite_noise() -> None:
    world = World(3, 10)
    for account in world.accounts(Platform.TWITCH):
        assert world.followers(account, T0 + timedelta(hours=24)) > world.followers(account, T0)
        assert world.posts(account, T0 + timedelta(hours=24)) >= world.posts(account, T0)


def test_every_channel_goes_live_and_offline_within_twenty_minutes() -> None:
    world = World(1, 10)
    for account in world.accounts(Platform.TWITCH):
        samples = [world.stream(account, T0 + timedelta(seconds=s)) for s in range(0, 1200, 10)]
        assert any(s is None for s in samples) and any(s is not None for s in samples)
        live = next(s for s in samples if s is not None)
        assert live.viewers >= 0 and live.started_at <= T0 + timedelta(seconds=1200)


@pytest.mark.parametrize("platform", list(SIMULATED_PLATFORMS))
def test_metrics_use_the_contract_names(platform: Platform) -> None:
    world = World(1, 5)
    for account in world.accounts(platform):
        figures = world.metrics(account, T0)
        if platform is Platform.TWITCH:
            assert set(figures) in ({"followers", "is_live"}, {"followers", "is_live", "live_viewers"})
            assert ("live_viewers" in figures) == (figures["is_live"] == 1.0)
        elif platform is Platform.YOUTUBE:
            assert set(figures) in ({"subscribers", "views", "videos"}, {"views", "videos"})
        elif platform is Platform.MASTODON:  # hidden counts; a moved account serves nothing to store
            assert set(figures) in ({"followers", "following", "posts"}, {"posts"}, set())
        elif platform is Platform.REDDIT:  # subreddits (active users may be absent) and users' karma
            assert set(figures) in ({"subscribers", "active_users"}, {"subscribers"},
                                    {"karma_link", "karma_comment", "karma_total"})
        elif platform is Platform.X:
            assert set(figures) - {"listed"} == {"followers", "following", "posts"}
        else:
            assert set(figures) == {"followers", "following", "posts"}


def test_every_simulated_platform_has_routes_and_accounts() -> None:
    assert set(SIMULATORS) == set(SIMULATED_PLATFORMS)
