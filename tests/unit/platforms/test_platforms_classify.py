from __future__ import annotations

import pytest

from sma_common.errors import (
    AuthRejected,
    ConfigurationError,
    DependencyTimeout,
    NotFound,
    RateLimited,
    UpstreamUnavailable,
)
from sma_platforms import Outcome
from sma_platforms.bluesky.parse import refine_outcome
from sma_platforms.http import HttpReply, UpstreamRejected, classify, describe, error_for
from sma_platforms.payload import MalformedResponse

HELIX_429 = {"error": "Too Many Requests", "status": 429, "message": "Request limit exceeded"}
XRPC_NOT_FOUND = {"error": "InvalidRequest", "message": "Profile not found"}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"data": []}, Outcome.SUCCESS),
        (204, None, Outcome.SUCCESS),
        (400, {"error": "Bad Request", "status": 400, "message": "Must provide an ID"}, Outcome.FAILED),
        (401, {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}, Outcome.AUTH_ERROR),
        (403, {"error": "Forbidden", "status": 403, "message": "Missing scope"}, Outcome.AUTH_ERROR),
        (404, {"error": "Record not found"}, Outcome.NOT_FOUND),
        (410, {"error": "Gone"}, Outcome.NOT_FOUND),
        (429, HELIX_429, Outcome.RATE_LIMITED),
        (429, "<html><title>whoa there, pardner!</title></html>", Outcome.RATE_LIMITED),
        (408, None, Outcome.TIMEOUT),
        (504, None, Outcome.TIMEOUT),
        (500, {"error": "Internal Server Error", "status": 500, "message": ""}, Outcome.FAILED),
        (503, None, Outcome.FAILED),
        (302, None, Outcome.FAILED),
    ],
)
def test_classify_status(status: int, body: object, expected: Outcome) -> None:
    assert classify(status, body) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError(), Outcome.TIMEOUT),
        (DependencyTimeout("slow"), Outcome.TIMEOUT),
        (RateLimited("slow down", retry_after=3), Outcome.RATE_LIMITED),
        (AuthRejected("bad token"), Outcome.AUTH_ERROR),
        (NotFound("gone"), Outcome.NOT_FOUND),
        (UpstreamUnavailable("502"), Outcome.FAILED),
        (MalformedResponse("not an object"), Outcome.FAILED),
        (UpstreamRejected("400"), Outcome.FAILED),
        (ConfigurationError("bad url"), Outcome.FAILED),
    ],
)
def test_classify_error(error: BaseException, expected: Outcome) -> None:
    assert classify(error) is expected


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, XRPC_NOT_FOUND, Outcome.NOT_FOUND),
        (400, {"error": "AccountTakedown", "message": "Account has been suspended"}, Outcome.NOT_FOUND),
        (400, {"error": "AccountDeactivated", "message": "Account is deactivated"}, Outcome.NOT_FOUND),
        (400, {"error": "InvalidRequest", "message": "Error: actors/0 must be a valid handle"}, Outcome.FAILED),
        (401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, Outcome.AUTH_ERROR),
        (429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, Outcome.RATE_LIMITED),
        (200, {"profiles": []}, Outcome.SUCCESS),
    ],
)
def test_classify_with_bluesky_refinement(status: int, body: object, expected: Outcome) -> None:
    assert classify(status, body, refine=refine_outcome) is expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (HttpReply(429, HELIX_429), "HTTP 429: Request limit exceeded"),
        (HttpReply(400, XRPC_NOT_FOUND), "HTTP 400: Profile not found"),
        (HttpReply(401, {"error": 401}), "HTTP 401"),
        (HttpReply(429, "<html>\n<title>whoa</title></html>"), "HTTP 429: <html>"),
        (HttpReply(500, None), "HTTP 500"),
    ],
)
def test_describe(reply: HttpReply, expected: str) -> None:
    assert describe(reply) == expected


@pytest.mark.parametrize(
    ("reply", "outcome", "expected"),
    [
        (HttpReply(401, None), Outcome.AUTH_ERROR, AuthRejected),
        (HttpReply(400, XRPC_NOT_FOUND), Outcome.NOT_FOUND, NotFound),
        (HttpReply(504, None), Outcome.TIMEOUT, DependencyTimeout),
        (HttpReply(400, None), Outcome.FAILED, UpstreamRejected),
        (HttpReply(502, None), Outcome.FAILED, UpstreamUnavailable),
    ],
)
def test_error_for(reply: HttpReply, outcome: Outcome, expected: type[Exception]) -> None:
    assert type(error_for(reply, outcome)) is expected


def test_error_for_rate_limit_carries_retry_after() -> None:
    error = error_for(HttpReply(429, HELIX_429, retry_after=42.0), Outcome.RATE_LIMITED)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 42.0
