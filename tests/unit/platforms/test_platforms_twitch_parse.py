from __future__ import annotations

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation
from sma_platforms.oauth import TokenGrant
from sma_platforms.payload import MalformedResponse
from sma_platforms.twitch.parse import (
    AccountRef,
    TwitchUser,
    channel_observations,
    parse_account_ref,
    parse_follower_total,
    parse_live_streams,
    parse_token,
    parse_users,
)


def _user(user_id: str, login: str, display_name: str | None = None) -> dict[str, object]:
    user: dict[str, object] = {
        "id": user_id, "login": login, "type": "", "broadcaster_type": "affiliate",
        "description": "a channel", "profile_image_url": "https://example.invalid/a.png",
        "offline_image_url": "", "view_count": 1234, "created_at": "2015-06-01T10:00:00.5Z",
    }
    if display_name is not None:
        user["display_name"] = display_name
    return user


def _stream(user_id: str, viewers: object, *, login: str | None = None, kind: str = "live") -> dict[str, object]:
    stream: dict[str, object] = {
        "id": "40000000001", "user_id": user_id, "user_name": "Someone", "game_id": "33214",
        "game_name": "Tekken", "tag_ids": [], "type": kind, "title": "hi", "viewer_count": viewers,
        "started_at": "2026-01-01T10:00:00Z", "language": "en", "thumbnail_url": "x", "is_mature": False,
    }
    if login is not None:
        stream["user_login"] = login
    return stream


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": []}, {}),
        (
            {"data": [_user("1001", "alpha", "Alpha"), _user("1002", "beta")]},
            {"1001": TwitchUser("1001", "alpha", "Alpha"), "1002": TwitchUser("1002", "beta", None)},
        ),
    ],
)
def test_parse_users(body: object, expected: dict[str, TwitchUser]) -> None:
    assert parse_users(body) == expected


@pytest.mark.parametrize(
    "body",
    [None, [], {"data": None}, {"data": [{"login": "no_id"}]}, {"data": ["x"]}, "<html>"],
)
def test_parse_users_rejects_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_users(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": [], "pagination": {}}, {}),
        (  # the older payload shape without user_login is matched by user_id
            {"data": [_stream("1001", 72124, login="alpha"), _stream("1002", 29687)],
             "pagination": {"cursor": "abc"}},
            {"1001": 72124.0, "1002": 29687.0},
        ),
        ({"data": [_stream("1003", "12")]}, {"1003": 12.0}),
        ({"data": [_stream("1004", None)]}, {"1004": None}),
        ({"data": [_stream("1005", 5, kind="")]}, {}),
    ],
)
def test_parse_live_streams(body: object, expected: dict[str, float | None]) -> None:
    assert parse_live_streams(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"total": 8, "data": [{"user_id": "1"}, {"user_id": "2"}], "pagination": {"cursor": "x"}}, 8.0),
        ({"total": 0, "data": [], "pagination": {}}, 0.0),
        ({"data": []}, None),
        ({"total": -1, "data": []}, None),
    ],
)
def test_parse_follower_total(body: object, expected: float | None) -> None:
    assert parse_follower_total(body) == expected


def test_parse_token() -> None:
    body = {"access_token": "abc123", "expires_in": 5011271, "token_type": "bearer"}
    assert parse_token(body) == TokenGrant("abc123", 5011271.0)
    with pytest.raises(MalformedResponse):
        parse_token({"access_token": "abc123"})


@pytest.mark.parametrize(
    ("is_live", "viewers", "followers", "expected"),
    [
        (True, 50.0, 1000.0, (Observation("followers", 1000.0), Observation("is_live", 1.0),
                              Observation("live_viewers", 50.0))),
        (False, None, 1000.0, (Observation("followers", 1000.0), Observation("is_live", 0.0))),
        (False, 50.0, 1000.0, (Observation("followers", 1000.0), Observation("is_live", 0.0))),
        (True, None, None, (Observation("is_live", 1.0),)),
    ],
)
def test_channel_observations(
    is_live: bool, viewers: float | None, followers: float | None, expected: tuple[Observation, ...]
) -> None:
    assert channel_observations(is_live=is_live, live_viewers=viewers, followers=followers) == expected


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("twitchdev", AccountRef("login", "twitchdev")),
        ("  TwitchDev ", AccountRef("login", "twitchdev")),
        ("@twitchdev", AccountRef("login", "twitchdev")),
        ("twitch.tv/twitchdev", AccountRef("login", "twitchdev")),
        ("https://www.twitch.tv/TwitchDev", AccountRef("login", "twitchdev")),
        ("https://m.twitch.tv/twitchdev/videos?filter=archives", AccountRef("login", "twitchdev")),
        ("www.twitch.tv/sma_demo_music/", AccountRef("login", "sma_demo_music")),
        ("141981764", AccountRef("id", "141981764")),
    ],
)
def test_parse_account_ref(account: str, expected: AccountRef) -> None:
    assert parse_account_ref(account) == expected


@pytest.mark.parametrize(
    "account",
    ["", "   ", "not a login", "way_too_long_for_a_twitch_login_name", "https://youtube.com/twitchdev",
     "https://www.twitch.tv/", "https://www.twitch.tv/directory/all", "eviltwitch.tv/x", "tw!tch"],
)
def test_parse_account_ref_rejects(account: str) -> None:
    with pytest.raises(NotFound):
        parse_account_ref(account)
