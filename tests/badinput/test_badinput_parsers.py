"""Every reader of platform responses, fed arbitrary JSON: it returns a result or raises an
`SmaError` (the type the adapters catch and turn into an execution outcome), never anything else.
A value it does return is sane: counts are finite and non-negative.

The JSON is generated three ways: wholly arbitrary; "near-shaped" (objects keyed by the field
names the parsers look for, so the generator reaches past the first type check); and a valid
answer of each parser with one value anywhere in it replaced (the likeliest real breakage).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from sma_common.errors import SmaError
from sma_platforms.base import Observation, Outcome
from sma_platforms.bluesky import parse as bluesky
from sma_platforms.http import HttpReply, _decode, classify, describe, error_for
from sma_platforms.mastodon import parse as mastodon
from sma_platforms.oauth import parse_token_grant
from sma_platforms.ratelimit import RateLimitFormat, parse_rate_limit, parse_retry_after
from sma_platforms.reddit import parse as reddit
from sma_platforms.twitch import parse as twitch
from sma_platforms.x import parse as x
from sma_platforms.youtube import parse as youtube

# More with SMA_BADINPUT_EXAMPLES (a deeper search than CI's, e.g. nightly).
EXAMPLES = settings(max_examples=int(os.environ.get("SMA_BADINPUT_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Field names the parsers read: objects built from these reach the deeper branches.
FIELDS = [
    "data", "id", "login", "display_name", "user_id", "type", "viewer_count", "total", "access_token",
    "expires_in", "items", "statistics", "snippet", "subscriberCount", "hiddenSubscriberCount", "viewCount",
    "videoCount", "customUrl", "title", "error", "errors", "details", "reason", "message", "code",
    "public_metrics", "followers_count", "following_count", "tweet_count", "listed_count", "username", "name",
    "value", "resource_id", "detail", "kind", "children", "subscribers", "active_user_count", "accounts_active",
    "link_karma", "comment_karma", "total_karma", "profiles", "did", "handle", "displayName", "followersCount",
    "followsCount", "postsCount", "acct", "statuses_count", "moved", "suspended", "t5", "t2", "live",
    "t2_abc", "t2_" + "z" * 13, "t5_abc", "error_description",
]
NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=10**300, max_value=10**400), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1.5, 2**63, -(2**63) - 1, 1e308, 5e-324]),
)
NUMERIC_TEXT = st.one_of(
    NUMBERS.map(str), st.sampled_from(["", " ", "1e400", "-0", "NaN", "inf", "0x10", "1_000", "9" * 5000, "٣"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=40), NUMERIC_TEXT,
                    st.sampled_from(["live", "t5", "t2", "Not Found Error", "quotaExceeded", "keyInvalid",
                                     "AccountTakedown", "InvalidRequest", "suspended user"]))
ARBITRARY = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)
SHAPED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=8),
    ),
    max_leaves=30,
)
BODIES = st.one_of(ARBITRARY, SHAPED)

_TWITCH_USER = {"id": "1", "login": "a", "display_name": "A"}
_YT_CHANNEL = {"id": "UC" + "a" * 22, "statistics": {"subscriberCount": "10", "hiddenSubscriberCount": False,
                                                      "viewCount": "5", "videoCount": "1"},
               "snippet": {"customUrl": "@a", "title": "A"}}
_X_USER = {"id": "1", "username": "a", "name": "A", "public_metrics": {
    "followers_count": 1, "following_count": 2, "tweet_count": 3, "listed_count": 4}}
_T5 = {"kind": "t5", "data": {"name": "t5_a", "display_name": "a", "title": "A", "subscribers": 5,
                              "active_user_count": 1}}
_BSKY = {"did": "did:plc:a", "handle": "a.bsky.social", "displayName": "A", "followersCount": 1,
         "followsCount": 2, "postsCount": 3}
_MASTODON = {"id": "1", "username": "a", "acct": "a", "display_name": "A", "followers_count": 1,
             "following_count": 2, "statuses_count": 3, "moved": None, "suspended": False}
_TOKEN = {"access_token": "t", "expires_in": 3600, "token_type": "bearer"}
# One valid answer per body parser (keyed as BODY_PARSERS is).
VALID: dict[str, object] = {
    "twitch.parse_users": {"data": [_TWITCH_USER]},
    "twitch.parse_live_streams": {"data": [{"user_id": "1", "type": "live", "viewer_count": 3}]},
    "twitch.parse_follower_total": {"total": 7, "data": []},
    "twitch.parse_token": _TOKEN,
    "youtube.parse_channel": _YT_CHANNEL,
    "youtube.parse_channels": {"items": [_YT_CHANNEL]},
    "youtube.error_reasons": {"error": {"errors": [{"reason": "quotaExceeded"}], "details": [{"reason": "x"}]}},
    "youtube.error_message": {"error": {"message": "m"}},
    "x.parse_user": _X_USER,
    "x.parse_users": {"data": [_X_USER], "errors": [{"value": "2", "title": "Not Found Error", "detail": "d"}]},
    "reddit.parse_subreddit": _T5,
    "reddit.parse_listing": {"kind": "Listing", "data": {"children": [_T5]}},
    "reddit.parse_about": {"kind": "t2", "data": {"id": "a", "name": "a", "link_karma": 1, "comment_karma": 2,
                                                  "total_karma": 3}},
    "reddit.parse_user_data": {"t2_a": {"name": "a", "link_karma": 1, "comment_karma": 2}},
    "reddit.parse_token": _TOKEN,
    "bluesky.parse_profile": _BSKY,
    "bluesky.parse_profiles": {"profiles": [_BSKY]},
    "mastodon.parse_account": _MASTODON,
    "mastodon.parse_accounts": [_MASTODON],
    "oauth.parse_token_grant": _TOKEN,
}


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    children: list[tuple[object, ...]] = []
    if isinstance(value, dict):
        children = [p for k, v in value.items() for p in _paths(v, (*path, k))]
    elif isinstance(value, list):
        children = [p for i, v in enumerate(value) for p in _paths(v, (*path, i))]
    return [path, *children]


@st.composite
def mutated(draw: st.DrawFn, name: str) -> object:
    """`VALID[name]` with the value at one path (the whole body included) replaced."""
    body = copy.deepcopy(VALID[name])
    path = draw(st.sampled_from(_paths(body)))
    replacement = draw(st.one_of(SCALARS, NUMBERS, st.integers(min_value=10**308, max_value=10**320), BODIES))
    if not path:
        return replacement
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return body
STATUSES = st.one_of(st.sampled_from([200, 201, 204, 400, 401, 403, 404, 408, 410, 429, 500, 502, 503, 504]),
                     st.integers(min_value=100, max_value=599))

# Every body parser, by name: each takes the decoded JSON body of one platform answer.
BODY_PARSERS: dict[str, Callable[[object], object]] = {
    "twitch.parse_users": twitch.parse_users,
    "twitch.parse_live_streams": twitch.parse_live_streams,
    "twitch.parse_follower_total": twitch.parse_follower_total,
    "twitch.parse_token": twitch.parse_token,
    "youtube.parse_channel": youtube.parse_channel,
    "youtube.parse_channels": youtube.parse_channels,
    "youtube.error_reasons": youtube.error_reasons,
    "youtube.error_message": youtube.error_message,
    "x.parse_user": x.parse_user,
    "x.parse_users": x.parse_users,
    "reddit.parse_subreddit": reddit.parse_subreddit,
    "reddit.parse_listing": reddit.parse_listing,
    "reddit.parse_about": reddit.parse_about,
    "reddit.parse_user_data": reddit.parse_user_data,
    "reddit.parse_token": reddit.parse_token,
    "bluesky.parse_profile": bluesky.parse_profile,
    "bluesky.parse_profiles": bluesky.parse_profiles,
    "mastodon.parse_account": mastodon.parse_account,
    "mastodon.parse_accounts": mastodon.parse_accounts,
    "oauth.parse_token_grant": lambda body: parse_token_grant(body, "token"),
}
REFINERS = {"youtube": youtube.refine_outcome, "x": x.refine_outcome, "reddit": reddit.refine_outcome,
            "bluesky": bluesky.refine_outcome}
REF_PARSERS: dict[str, Callable[[str], object]] = {
    "twitch": twitch.parse_account_ref, "youtube": youtube.parse_channel_ref, "x": x.parse_user_ref,
    "reddit": reddit.parse_ref, "bluesky": bluesky.parse_actor_ref, "mastodon": mastodon.parse_account_ref,
    "mastodon.external_id": mastodon.parse_external_id,
}


def observations_in(value: object) -> list[Observation]:
    """Every observation anywhere in a parser's result (dataclasses, dicts, lists, tuples)."""
    if isinstance(value, Observation):
        return [value]
    if isinstance(value, dict):
        return [o for v in value.values() for o in observations_in(v)]
    if isinstance(value, list | tuple):
        return [o for v in value for o in observations_in(v)]
    if hasattr(value, "__slots__") and hasattr(value, "observations"):
        return observations_in(value.observations) + observations_in(getattr(value, "users", ()))
    if hasattr(value, "users"):
        return observations_in(value.users)
    return []


def read(parser: Callable[[Any], object], body: object) -> object:
    """The parser's result, or None after a clean `SmaError`; any other exception fails the test."""
    try:
        result = parser(body)
    except SmaError:
        return None
    for observation in observations_in(result):
        assert isinstance(observation.value, float) and math.isfinite(observation.value) and observation.value >= 0, (
            parser, body, observation)
    if isinstance(result, float):
        assert math.isfinite(result) and result >= 0
    return result


@EXAMPLES
@given(name=st.sampled_from(sorted(BODY_PARSERS)), body=BODIES)
def test_every_body_parser_returns_or_raises_an_sma_error(name: str, body: object) -> None:
    read(BODY_PARSERS[name], body)


@EXAMPLES
@given(data=st.data(), name=st.sampled_from(sorted(BODY_PARSERS)))
def test_every_body_parser_survives_a_valid_answer_with_one_value_changed(data: st.DataObject, name: str) -> None:
    read(BODY_PARSERS[name], data.draw(mutated(name)))


def test_the_valid_answers_parse() -> None:
    for name, body in VALID.items():
        assert read(BODY_PARSERS[name], body) is not None, name


@EXAMPLES
@given(platform=st.sampled_from(sorted(REFINERS)), status=STATUSES, body=BODIES)
def test_outcome_refiners_and_classify_always_name_an_outcome(platform: str, status: int, body: object) -> None:
    refined = REFINERS[platform](status, body)
    assert refined is None or isinstance(refined, Outcome)
    assert isinstance(classify(status, body, refine=REFINERS[platform]), Outcome)
    assert isinstance(youtube.is_quota_exceeded(status, body), bool)


@EXAMPLES
@given(status=STATUSES, body=st.one_of(BODIES, st.text(max_size=300)), retry_after=st.none() | st.floats(0, 1e6))
def test_a_failed_reply_is_described_and_turned_into_an_sma_error(status: int, body: object,
                                                                  retry_after: float | None) -> None:
    reply = HttpReply(status, body, None, retry_after)
    text = describe(reply)
    assert text.startswith(f"HTTP {status}") and len(text) < 300
    outcome = classify(status, body)
    if outcome is not Outcome.SUCCESS:
        assert isinstance(error_for(reply, outcome), SmaError)


@EXAMPLES
@given(raw=st.one_of(st.binary(max_size=200), BODIES.map(lambda b: repr(b).encode()),
                     st.sampled_from([b"1e400", b"[" * 2000, b"{\"a\":" * 600, b"\xff\xfe", b"9" * 5000])))
def test_any_response_bytes_decode_to_a_body(raw: bytes) -> None:
    # Not JSON → the (truncated) text, which every parser then refuses as malformed.
    body = _decode(raw)
    for parser in BODY_PARSERS.values():
        read(parser, body)


@EXAMPLES
@given(name=st.sampled_from(sorted(REF_PARSERS)), text=st.one_of(
    st.text(max_size=80),
    st.sampled_from(["https://", "//", "@", "@@", "t5_", "did:", "at://", "x.com/i/user/", "twitch.tv/",
                     "https://[::1", "http://a:99999999/@u", "https://bsky.app/profile/", "reddit.com/r/",
                     "https://www.youtube.com/channel/", "%", "%zz", "\x00", "a" * 5000]),
    st.tuples(st.sampled_from(["https://", "", "@", "r/", "u/"]),
              st.sampled_from(["x.com/", "twitch.tv/", "youtube.com/@", "reddit.com/r/", "bsky.app/profile/",
                               "mastodon.social/@", ""]),
              st.text(max_size=30)).map("".join),
))
def test_account_references_parse_or_are_not_found(name: str, text: str) -> None:
    with contextlib.suppress(SmaError):
        REF_PARSERS[name](text)


HEADER_VALUES = st.one_of(NUMERIC_TEXT, st.text(max_size=40),
                          st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 99 Oct 99999 07:28:00 GMT",
                                           "2026-01-01T00:00:00", "9999-12-31T23:59:59+14:00", "1e300", "-5"]))


@EXAMPLES
@given(headers=st.dictionaries(
    st.sampled_from(["Retry-After", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                     "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset", "x-ratelimit-limit",
                     "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"]), HEADER_VALUES, max_size=5),
    fmt=st.sampled_from([RateLimitFormat("ratelimit-"), RateLimitFormat("x-rate-limit-"),
                         RateLimitFormat("x-ratelimit-", "seconds"), RateLimitFormat("x-ratelimit-", "iso")]))
def test_rate_limit_headers_parse_or_are_ignored(headers: dict[str, str], fmt: RateLimitFormat) -> None:
    multi = CIMultiDict(headers)
    parse_rate_limit(multi, fmt, NOW)
    retry_after = parse_retry_after(multi, NOW)
    assert retry_after is None or (math.isfinite(retry_after) and retry_after >= 0)


def test_what_this_suite_found_stays_fixed() -> None:
    # A count no float can hold (JSON integers have no size limit) is no point, not an OverflowError.
    assert x.parse_user({**_X_USER, "public_metrics": {"followers_count": 10**400}}).observations == ()
    assert youtube.parse_channel({**_YT_CHANNEL, "statistics": {"viewCount": "9" * 400}}).observations == ()
    # An unbalanced `[` in a typed URL names no account (urlsplit raised ValueError).
    for parser in (twitch.parse_account_ref, youtube.parse_channel_ref, x.parse_user_ref, reddit.parse_ref,
                   bluesky.parse_actor_ref, mastodon.parse_account_ref):
        with contextlib.suppress(SmaError):
            parser("https://[::1/@a")
            raise AssertionError(f"{parser.__module__} accepted an unbalanced IPv6 URL")
    # An XRPC error code that is not a string (unhashable) is no known error, not a TypeError.
    assert bluesky.refine_outcome(400, {"error": ["AccountTakedown"]}) is None
    assert bluesky.refine_outcome(400, {"error": "AccountTakedown"}) is Outcome.NOT_FOUND
    # A reset decades past year 9999 is no reset.
    state = parse_rate_limit({"x-ratelimit-reset": "1e300", "x-ratelimit-remaining": "1"},
                             RateLimitFormat("x-ratelimit-", "seconds"), NOW)
    assert state is not None and state.reset_at is None and state.remaining == 1
