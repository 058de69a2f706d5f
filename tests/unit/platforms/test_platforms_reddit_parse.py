from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation, Outcome, RateLimitState
from sma_platforms.http import HttpReply, classify, describe
from sma_platforms.payload import MalformedResponse
from sma_platforms.ratelimit import parse_rate_limit
from sma_platforms.reddit.client import RATE_LIMIT_FORMAT
from sma_platforms.reddit.parse import (
    RedditRef,
    is_subreddit_id,
    is_user_id,
    parse_about,
    parse_listing,
    parse_ref,
    parse_token,
    parse_user_data,
    refine_outcome,
    subreddit_name,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Trimmed from the recorded /r/announcements/about (praw cassette, 2019).
ANNOUNCEMENTS = {"kind": "t5", "data": {"display_name": "announcements", "title": "Official Reddit announcements",
                                        "active_user_count": 727, "accounts_active": 727, "subscribers": 47456009,
                                        "name": "t5_2r0ij", "subreddit_type": "public"}}
# Trimmed from the recorded /user/Watchful1/about (praw cassette, 2022).
WATCHFUL1 = {"kind": "t2", "data": {"id": "d0z23", "name": "Watchful1", "link_karma": 50781,
                                    "comment_karma": 206653, "total_karma": 265351, "awardee_karma": 4033}}


def _listing(*things: object) -> dict[str, object]:
    return {"kind": "Listing", "data": {"after": None, "dist": len(things), "children": list(things), "before": None}}


def test_a_listing_reads_subscribers_and_active_users_by_fullname() -> None:
    no_active = {"kind": "t5", "data": {"display_name": "PRAW_x", "name": "t5_3fok3", "subscribers": 1}}
    things = parse_listing(_listing(ANNOUNCEMENTS, no_active))
    assert things["t5_2r0ij"].name == "announcements"
    assert things["t5_2r0ij"].observations == (
        Observation("subscribers", 47456009.0), Observation("active_users", 727.0))
    assert things["t5_3fok3"].observations == (Observation("subscribers", 1.0),)  # absent active users: no point


def test_accounts_active_is_used_when_active_user_count_is_absent() -> None:
    thing = {"kind": "t5", "data": {"display_name": "x1", "name": "t5_abc", "subscribers": 5, "accounts_active": 0}}
    assert parse_listing(_listing(thing))["t5_abc"].observations[1] == Observation("active_users", 0.0)


def test_an_empty_listing_finds_nothing_and_a_bad_shape_is_malformed() -> None:
    assert parse_listing(_listing()) == {}
    with pytest.raises(MalformedResponse):
        parse_listing({"kind": "Listing"})
    with pytest.raises(MalformedResponse):
        parse_listing(_listing({"kind": "t5", "data": {"subscribers": 1}}))


def test_user_about_reads_karma() -> None:
    user = parse_about(WATCHFUL1)
    assert user is not None and user.fullname == "t2_d0z23" and user.name == "Watchful1"
    assert user.observations == (Observation("karma_link", 50781.0), Observation("karma_comment", 206653.0),
                                 Observation("karma_total", 265351.0))
    assert parse_about({"kind": "Listing", "data": {"children": []}}) is None  # a search redirect


def test_user_data_reads_link_and_comment_karma_by_fullname_and_no_total() -> None:
    body = {"t2_d0z23": {"name": "Watchful1", "created_utc": 1465000000.0, "link_karma": 50781,
                         "comment_karma": 206653, "profile_img": "https://example.invalid/a.png",
                         "profile_color": "", "profile_over_18": False},
            "t2_1w72": {"name": "spez", "created_utc": 1118030400.0, "link_karma": 0, "comment_karma": 7}}
    lookup = parse_user_data(body)
    assert lookup.unreadable == {}
    assert lookup.users["t2_d0z23"].name == "Watchful1"
    assert lookup.users["t2_d0z23"].observations == (Observation("karma_link", 50781.0),
                                                     Observation("karma_comment", 206653.0))
    assert lookup.users["t2_1w72"].observations == (Observation("karma_link", 0.0), Observation("karma_comment", 7.0))


def test_user_data_keeps_a_total_only_when_served() -> None:
    lookup = parse_user_data({"t2_abc": {"name": "x", "link_karma": 1, "comment_karma": 2, "total_karma": 3}})
    assert [o.metric for o in lookup.users["t2_abc"].observations] == ["karma_link", "karma_comment", "karma_total"]


def test_user_data_with_malformed_entries_reads_the_rest() -> None:
    body = {"t2_good": {"name": "good", "link_karma": 5, "comment_karma": 6},
            "t2_partial": {"name": "partial", "comment_karma": "12", "link_karma": -1},
            "t2_list": ["not", "an", "object"], "t2_null": None, "t2_nokarma": {"name": "nokarma"},
            "t2_noname": {"link_karma": 1, "comment_karma": True},
            "t5_2r0ij": {"link_karma": 1}, "junk": 3}
    lookup = parse_user_data(body)
    assert set(lookup.users) == {"t2_good", "t2_partial", "t2_noname"}
    assert lookup.users["t2_partial"].observations == (Observation("karma_comment", 12.0),)  # -1 is no point
    assert lookup.users["t2_noname"].name == ""
    assert lookup.users["t2_noname"].observations == (Observation("karma_link", 1.0),)  # a bool is no count
    assert set(lookup.unreadable) == {"t2_list", "t2_null", "t2_nokarma"}


@pytest.mark.parametrize("body", [[], None, "Not Found", [{"t2_abc": {}}]])
def test_user_data_that_is_not_an_object_is_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_user_data(body)


def test_empty_user_data_finds_nobody() -> None:
    assert parse_user_data({}).users == {} and parse_user_data({}).unreadable == {}


def test_the_token_grant() -> None:
    grant = parse_token({"access_token": "-qjzg-GRwH02Ykx7p6yOKtsogrfo", "token_type": "bearer",
                         "expires_in": 3600, "scope": "*"})
    assert (grant.access_token, grant.expires_in) == ("-qjzg-GRwH02Ykx7p6yOKtsogrfo", 3600.0)
    with pytest.raises(MalformedResponse):
        parse_token({"access_token": "x"})


def test_rate_limit_headers_have_a_decimal_remaining_and_a_relative_reset() -> None:
    headers = {"x-ratelimit-used": "2", "x-ratelimit-remaining": "598.0", "x-ratelimit-reset": "473"}
    state = parse_rate_limit(headers, RATE_LIMIT_FORMAT, NOW)
    assert state == RateLimitState(limit=None, remaining=598, reset_at=NOW + timedelta(seconds=473))
    assert parse_rate_limit({"Content-Type": "text/html"}, RATE_LIMIT_FORMAT, NOW) is None


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (401, {"error": 401}, Outcome.AUTH_ERROR),
        (403, {"reason": "private", "message": "Forbidden", "error": 403}, Outcome.NOT_FOUND),
        (403, {"reason": "banned", "message": "Forbidden", "error": 403}, Outcome.NOT_FOUND),
        (404, {"message": "Not Found", "error": 404}, Outcome.NOT_FOUND),
        (429, {"message": "Too Many Requests", "error": 429}, Outcome.RATE_LIMITED),
        (429, "<!doctype html><h1>whoa there, pardner!</h1>", Outcome.RATE_LIMITED),
        (503, None, Outcome.FAILED),
        (200, _listing(), Outcome.SUCCESS),
    ],
)
def test_classify(status: int, body: object, outcome: Outcome) -> None:
    assert classify(status, body, refine=refine_outcome) is outcome


def test_describe_reads_the_reddit_envelope() -> None:
    assert describe(HttpReply(429, {"message": "Too Many Requests", "error": 429})) == "HTTP 429: Too Many Requests"


@pytest.mark.parametrize(
    ("account", "ref"),
    [
        ("r/smademo", RedditRef("subreddit", "smademo")),
        ("/r/SMADemo/", RedditRef("subreddit", "smademo")),
        ("reddit.com/r/smademo", RedditRef("subreddit", "smademo")),
        ("https://www.reddit.com/r/announcements/comments/abc/x/", RedditRef("subreddit", "announcements")),
        ("announcements", RedditRef("subreddit", "announcements")),
        ("t5_2r0ij", RedditRef("fullname", "t5_2r0ij")),
        ("u/Watchful1", RedditRef("user", "Watchful1")),
        ("https://old.reddit.com/user/Watchful1", RedditRef("user", "Watchful1")),
    ],
)
def test_references(account: str, ref: RedditRef) -> None:
    assert parse_ref(account) == ref


@pytest.mark.parametrize("account", ["", "r/", "https://example.com/r/x", "not a sub", "r/a", "u/x"])
def test_bad_references_are_not_found(account: str) -> None:
    with pytest.raises(NotFound):
        parse_ref(account)


def test_ids_and_names() -> None:
    assert is_subreddit_id("t5_2r0ij") and not is_subreddit_id("t2_d0z23") and not is_subreddit_id("2r0ij")
    assert is_user_id("t2_d0z23") and not is_user_id("t5_2r0ij")
    assert subreddit_name("r/SMADemo") == subreddit_name("smademo") == "smademo"
