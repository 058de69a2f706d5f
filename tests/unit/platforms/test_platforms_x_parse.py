from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sma_common.errors import NotFound
from sma_platforms import Observation, Outcome, RateLimitState
from sma_platforms.http import HttpReply, classify, describe
from sma_platforms.payload import MalformedResponse
from sma_platforms.ratelimit import parse_rate_limit
from sma_platforms.x.client import RATE_LIMIT_FORMAT
from sma_platforms.x.parse import UserRef, parse_user, parse_user_ref, parse_users, refine_outcome

NOT_FOUND = {"value": "9", "detail": "Could not find user with ids: [9].", "title": "Not Found Error",
             "resource_type": "user", "parameter": "ids", "resource_id": "9",
             "type": "https://api.twitter.com/2/problems/resource-not-found"}
SUSPENDED = {"value": "7", "detail": "User has been suspended: [7].", "title": "Forbidden", "resource_type": "user",
             "parameter": "ids", "resource_id": "7", "type": "https://api.twitter.com/2/problems/resource-not-found"}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
TOO_MANY = {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}


# Recorded answers (platform-examples/x): sns-sdks/python-twitter users_resp.json, trimmed, and the
# tweepy cassette test_client_get_users.yaml (no user.fields, so no public_metrics at all).
RECORDED_WITH_METRICS = {
    "data": [
        {"username": "Twitter", "verified": True, "name": "Twitter", "protected": False, "id": "783214",
         "public_metrics": {"followers_count": 58677711, "following_count": 9, "tweet_count": 13944,
                            "listed_count": 87244}},
        {"username": "TwitterDev", "name": "Twitter Dev", "pinned_tweet_id": "1293593516040269825",
         "id": "2244994945", "public_metrics": {"followers_count": 514020, "following_count": 2038,
                                                "tweet_count": 3639, "listed_count": 1676}},
    ],
    "includes": {"tweets": [{"id": "1293593516040269825", "text": "It's finally here!"}]},
}
RECORDED_WITHOUT_FIELDS = {"data": [{"id": "783214", "name": "Twitter", "username": "Twitter"},
                                    {"id": "2244994945", "name": "Twitter Dev", "username": "TwitterDev"}]}
RECORDED_HEADERS = {"content-type": "application/json; charset=utf-8", "x-access-level": "read",
                    "x-rate-limit-limit": "300", "x-rate-limit-remaining": "299", "x-rate-limit-reset": "1618286938"}


def test_recorded_lookup_with_public_metrics() -> None:
    lookup = parse_users(RECORDED_WITH_METRICS)
    assert not lookup.errors and list(lookup.users) == ["783214", "2244994945"]
    dev = lookup.users["2244994945"]
    assert (dev.username, dev.name) == ("TwitterDev", "Twitter Dev")
    assert {o.metric: o.value for o in dev.observations} == {
        "followers": 514020, "following": 2038, "posts": 3639, "listed": 1676}


def test_recorded_lookup_without_user_fields_has_no_metrics_and_epoch_reset() -> None:
    lookup = parse_users(RECORDED_WITHOUT_FIELDS)
    assert [u.observations for u in lookup.users.values()] == [(), ()]
    state = parse_rate_limit(RECORDED_HEADERS, RATE_LIMIT_FORMAT, datetime(2021, 4, 13, 3, 53, 58, tzinfo=UTC))
    assert state == RateLimitState(300, 299, datetime.fromtimestamp(1618286938, UTC))


@pytest.mark.parametrize(
    ("metrics", "observations"),
    [
        ({"followers_count": 10, "following_count": 2, "tweet_count": 30, "listed_count": 4},
         (Observation("followers", 10.0), Observation("following", 2.0), Observation("posts", 30.0),
          Observation("listed", 4.0))),
        ({"followers_count": 0, "following_count": 2, "tweet_count": 30},  # listed missing: no point; 0 kept
         (Observation("followers", 0.0), Observation("following", 2.0), Observation("posts", 30.0))),
        (None, ()),  # public_metrics not sent: nothing, never zeros
    ],
)
def test_parse_user(metrics: dict[str, int] | None, observations: tuple[Observation, ...]) -> None:
    raw: dict[str, object] = {"id": "2244994945", "name": "Developers", "username": "XDevelopers"}
    if metrics is not None:
        raw["public_metrics"] = metrics
    user = parse_user(raw)
    assert (user.id, user.username, user.name, user.observations) == ("2244994945", "XDevelopers", "Developers",
                                                                       observations)


def test_partial_results_keep_found_users_and_classify_errors() -> None:
    body = {"data": [{"id": "1", "name": "A", "username": "a"}], "errors": [NOT_FOUND, SUSPENDED,
            {"value": "8", "title": "Some Other Error", "detail": "odd", "type": "about:blank"}]}
    lookup = parse_users(body)
    assert list(lookup.users) == ["1"]
    assert lookup.errors["9"][0] is Outcome.NOT_FOUND and "Could not find" in lookup.errors["9"][1]
    assert lookup.errors["7"] == (Outcome.NOT_FOUND, "User has been suspended: [7].")
    assert lookup.errors["8"] == (Outcome.FAILED, "odd")


def test_single_lookups_and_empty_answers() -> None:
    assert list(parse_users({"data": {"id": "5", "name": "E", "username": "e"}}).users) == ["5"]
    nothing = parse_users({"errors": [NOT_FOUND]})
    assert nothing.users == {} and set(nothing.errors) == {"9"}
    with pytest.raises(MalformedResponse):
        parse_users({"data": "nope"})
    with pytest.raises(MalformedResponse):
        parse_users({"data": [{"name": "no id"}]})


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"data": []}, Outcome.SUCCESS),
        (401, UNAUTHORIZED, Outcome.AUTH_ERROR),
        (429, TOO_MANY, Outcome.RATE_LIMITED),
        (429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, Outcome.RATE_LIMITED),
        (420, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, Outcome.RATE_LIMITED),
        (403, {"title": "Forbidden", "type": "https://api.twitter.com/2/problems/client-forbidden"},
         Outcome.AUTH_ERROR),
        (400, {"title": "Invalid Request", "errors": [{"message": "bad"}]}, Outcome.FAILED),
        (503, {"title": "Service Unavailable"}, Outcome.FAILED),
    ],
)
def test_classify(status: int, body: object, outcome: Outcome) -> None:
    assert classify(status, body, refine=refine_outcome) is outcome


def test_describe_uses_the_problem_detail() -> None:
    assert describe(HttpReply(401, UNAUTHORIZED)) == "HTTP 401: Unauthorized"


@pytest.mark.parametrize(
    ("account", "ref"),
    [
        ("2244994945", UserRef("id", "2244994945")),
        (" @XDevelopers ", UserRef("username", "XDevelopers")),
        ("XDevelopers", UserRef("username", "XDevelopers")),
        ("@123", UserRef("username", "123")),
        ("x.com/XDevelopers", UserRef("username", "XDevelopers")),
        ("https://www.twitter.com/XDevelopers/status/1", UserRef("username", "XDevelopers")),
        ("https://mobile.twitter.com/@sma_demo", UserRef("username", "sma_demo")),
        ("https://x.com/i/user/2244994945", UserRef("id", "2244994945")),
    ],
)
def test_parse_user_ref(account: str, ref: UserRef) -> None:
    assert parse_user_ref(account) == ref


@pytest.mark.parametrize(
    "account", ["", "@", "not a name", "way_too_long_for_x_name", "x.com/home", "x.com/i/flow/login",
                "https://youtube.com/XDevelopers", "x.com/", "x.com/bad-name"],
)
def test_parse_user_ref_rejects(account: str) -> None:
    with pytest.raises(NotFound):
        parse_user_ref(account)
