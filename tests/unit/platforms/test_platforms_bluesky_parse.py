from __future__ import annotations

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation
from sma_platforms.bluesky.parse import (
    BlueskyProfile,
    is_actor,
    parse_actor_ref,
    parse_profile,
    parse_profiles,
)
from sma_platforms.payload import MalformedResponse

DID = "did:plc:abcdefghijklmnopqrstuvwx"


def _profile(did: str, handle: str, **counts: object) -> dict[str, object]:
    return {
        "did": did, "handle": handle, "displayName": handle.split(".")[0].title(),
        "associated": {"lists": 0, "feedgens": 0, "labeler": False},
        "viewer": {"muted": False, "blockedBy": False, "knownFollowers": {"count": 1, "followers": []}},
        "labels": [], "createdAt": "2024-01-01T00:00:00.000Z", "indexedAt": "2024-01-02T00:00:00.000Z",
        **counts,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            _profile(DID, "alice.test", followersCount=554, followsCount=296, postsCount=65),
            BlueskyProfile(DID, "alice.test", "Alice",
                           (Observation("followers", 554.0), Observation("following", 296.0),
                            Observation("posts", 65.0))),
        ),
        (  # a count the profile omits is no observation, never 0; knownFollowers is not followers
            _profile(DID, "bob.test", followsCount=2),
            BlueskyProfile(DID, "bob.test", "Bob", (Observation("following", 2.0),)),
        ),
        (
            {"did": DID, "handle": "carol.test", "followersCount": 0, "followsCount": 1, "postsCount": 2},
            BlueskyProfile(DID, "carol.test", None,
                           (Observation("followers", 0.0), Observation("following", 1.0),
                            Observation("posts", 2.0))),
        ),
    ],
)
def test_parse_profile(raw: object, expected: BlueskyProfile) -> None:
    assert parse_profile(raw) == expected


def test_parse_profiles_keeps_what_exists() -> None:
    body = {"profiles": [_profile(DID, "alice.test", followersCount=2), _profile("did:plc:other", "dan.test")]}
    assert [p.handle for p in parse_profiles(body)] == ["alice.test", "dan.test"]
    assert parse_profiles({"profiles": []}) == []


@pytest.mark.parametrize("body", [None, {}, {"profiles": None}, {"profiles": [{"handle": "no.did"}]}])
def test_parse_profiles_rejects_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_profiles(body)


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("bsky.app", "bsky.app"),
        ("@SMA-Demo.bsky.social", "sma-demo.bsky.social"),
        ("sma-news", "sma-news.bsky.social"),
        (DID, DID),
        ("https://bsky.app/profile/sma-news.bsky.social", "sma-news.bsky.social"),
        ("bsky.app/profile/sma-demo.bsky.social/post/3kabc", "sma-demo.bsky.social"),
        (f"https://bsky.app/profile/{DID}", DID),
        (f"at://{DID}/app.bsky.feed.post/3kabc", DID),
    ],
)
def test_parse_actor_ref(account: str, expected: str) -> None:
    assert parse_actor_ref(account) == expected


@pytest.mark.parametrize(
    "account",
    ["", "@", "not a handle", "https://example.com/profile/alice.test", "https://bsky.app/search?q=x",
     "did:", "alice..bsky.social", "alice.123"],
)
def test_parse_actor_ref_rejects(account: str) -> None:
    with pytest.raises(NotFound):
        parse_actor_ref(account)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(DID, True), ("did:web:example.com", True), ("alice.test", True), ("alice", False), ("-a.test", False),
     ("user(0)", False), ("", False)],
)
def test_is_actor(value: str, expected: bool) -> None:
    assert is_actor(value) is expected
