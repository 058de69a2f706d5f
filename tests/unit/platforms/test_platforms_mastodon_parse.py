from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation, Outcome, RateLimitState
from sma_platforms.http import HttpReply, classify, describe
from sma_platforms.mastodon.client import RATE_LIMIT_FORMAT
from sma_platforms.mastodon.parse import (
    AccountKey,
    AccountRef,
    parse_account,
    parse_account_ref,
    parse_accounts,
    parse_external_id,
)
from sma_platforms.payload import MalformedResponse
from sma_platforms.ratelimit import parse_rate_limit

NOW = datetime(2026, 4, 11, 23, 14, 11, tzinfo=UTC)


def _account(account_id: str = "23972", username: str = "halcy", **extra: object) -> dict[str, object]:
    entity: dict[str, object] = {"id": account_id, "username": username, "acct": username, "display_name": "Halcy",
                                 "followers_count": 3553, "following_count": 540, "statuses_count": 75076}
    return entity | extra


def test_parse_account_reads_the_three_counts() -> None:
    account = parse_account(_account(hide_collections=True))  # hidden lists, counts still reported
    assert (account.id, account.username, account.display_name) == ("23972", "halcy", "Halcy")
    assert account.observations == (
        Observation("followers", 3553.0), Observation("following", 540.0), Observation("posts", 75076.0))
    assert account.unavailable is None


def test_a_hidden_or_absent_count_is_no_point() -> None:
    raw = _account()
    del raw["followers_count"], raw["following_count"]
    assert parse_account(raw).observations == (Observation("posts", 75076.0),)
    assert parse_account(_account(followers_count=-1, following_count=None)).observations == (
        Observation("posts", 75076.0),)


def test_moved_and_suspended_accounts_are_unavailable() -> None:
    moved = parse_account(_account(moved=_account("1", "newhome", acct="newhome@elsewhere.example")))
    assert moved.unavailable is not None and "moved to newhome@elsewhere.example" in moved.unavailable
    suspended = parse_account(_account(suspended=True, followers_count=0))
    assert suspended.unavailable == "the account is suspended by its instance"


def test_rate_limit_headers_have_an_iso_reset() -> None:
    # Mastodon sends the reset as an ISO 8601 timestamp with microseconds (platform-apis.md).
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
               "X-RateLimit-Reset": "2026-04-11T23:15:00.746804Z"}
    state = parse_rate_limit(headers, RATE_LIMIT_FORMAT, NOW)
    reset = datetime(2026, 4, 11, 23, 15, 0, 746804, tzinfo=UTC)
    assert state == RateLimitState(limit=300, remaining=299, reset_at=reset)


@pytest.mark.parametrize("body", [None, {}, [{"id": "1"}], [_account() | {"id": 5}], "<html>"])
def test_parse_accounts_rejects_malformed(body: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_accounts(body)


@pytest.mark.parametrize(
    ("external_id", "expected"),
    [
        ("mastodon.social:13179", AccountKey("mastodon.social", "13179")),
        ("Mastodon.Social:109302", AccountKey("mastodon.social", "109302")),
        ("localhost:3000:117020457910412882", AccountKey("localhost:3000", "117020457910412882")),
        ("13179", None), ("mastodon.social:", None), (":13179", None), ("mastodon.social:abc", None),
        ("@smademo@mastodon.social", None),
    ],
)
def test_parse_external_id(external_id: str, expected: AccountKey | None) -> None:
    assert parse_external_id(external_id) == expected
    if expected is not None:
        assert expected.external_id == external_id.lower()


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("@smademo@mastodon.social", AccountRef("smademo", "mastodon.social")),
        ("smademo@Mastodon.Social", AccountRef("smademo", "mastodon.social")),
        (" @Mastodon@mastodon.social ", AccountRef("Mastodon", "mastodon.social")),
        ("https://mastodon.social/@smademo", AccountRef("smademo", "mastodon.social")),
        ("mastodon.social/@smademo/with_replies", AccountRef("smademo", "mastodon.social")),
        ("https://mastodon.social/@halcy@icosahedron.website", AccountRef("halcy", "icosahedron.website")),
    ],
)
def test_parse_account_ref(account: str, expected: AccountRef) -> None:
    assert parse_account_ref(account) == expected


@pytest.mark.parametrize(
    "account",
    ["", "smademo", "@smademo", "@smademo@", "@@mastodon.social", "sma demo@mastodon.social",
     "https://mastodon.social/users/smademo", "https://mastodon.social/", "ftp://mastodon.social/@x",
     "smademo@bad_host!"],
)
def test_parse_account_ref_rejects_what_names_no_account(account: str) -> None:
    with pytest.raises(NotFound):
        parse_account_ref(account)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, [], Outcome.SUCCESS),
        (404, {"error": "Record not found"}, Outcome.NOT_FOUND),
        (410, {"error": "Gone"}, Outcome.NOT_FOUND),
        (429, {"error": "Too many requests"}, Outcome.RATE_LIMITED),
        (401, {"error": "This API requires an authenticated user"}, Outcome.AUTH_ERROR),
        (422, {"error": "Validation failed"}, Outcome.FAILED),
        (503, "<html>Service Unavailable</html>", Outcome.FAILED),
    ],
)
def test_classify(status: int, body: object, expected: Outcome) -> None:
    assert classify(status, body) is expected


def test_describe_reads_the_mastodon_envelope() -> None:
    assert describe(HttpReply(404, {"error": "Record not found"})) == "HTTP 404: Record not found"
    assert describe(HttpReply(400, {"error": "invalid_grant", "error_description": "Bad code"})) == (
        "HTTP 400: Bad code")
