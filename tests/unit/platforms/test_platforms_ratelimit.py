from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sma_platforms import RateLimitState
from sma_platforms.ratelimit import RateLimitFormat, parse_rate_limit, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EPOCH_RESET = int(NOW.timestamp()) + 45


@pytest.mark.parametrize(
    ("headers", "fmt", "expected"),
    [
        (  # Twitch: capitalised names, epoch reset
            {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "799", "Ratelimit-Reset": str(EPOCH_RESET)},
            RateLimitFormat("ratelimit-"),
            RateLimitState(800, 799, NOW + timedelta(seconds=45)),
        ),
        (  # Bluesky: lower-case names plus a policy header we do not need
            {"ratelimit-limit": "3000", "ratelimit-remaining": "2997", "ratelimit-reset": str(EPOCH_RESET),
             "ratelimit-policy": "3000;w=300"},
            RateLimitFormat("ratelimit-"),
            RateLimitState(3000, 2997, NOW + timedelta(seconds=45)),
        ),
        (  # X
            {"x-rate-limit-limit": "300", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(EPOCH_RESET)},
            RateLimitFormat("x-rate-limit-"),
            RateLimitState(300, 0, NOW + timedelta(seconds=45)),
        ),
        (  # Reddit: decimal remaining, relative reset, no limit header
            {"X-Ratelimit-Used": "2", "X-Ratelimit-Remaining": "598.0", "X-Ratelimit-Reset": "45"},
            RateLimitFormat("x-ratelimit-", reset="seconds"),
            RateLimitState(None, 598, NOW + timedelta(seconds=45)),
        ),
        (  # Mastodon: ISO-8601 reset with microseconds
            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
             "X-RateLimit-Reset": "2026-03-01T12:00:45.000000Z"},
            RateLimitFormat("x-ratelimit-", reset="iso"),
            RateLimitState(300, 299, NOW + timedelta(seconds=45)),
        ),
        (  # only some headers
            {"Ratelimit-Remaining": "3"},
            RateLimitFormat("ratelimit-"),
            RateLimitState(None, 3, None),
        ),
        (  # garbage values are ignored, not guessed
            {"Ratelimit-Limit": "lots", "Ratelimit-Remaining": "", "Ratelimit-Reset": "-5"},
            RateLimitFormat("ratelimit-"),
            None,
        ),
        ({"Content-Type": "application/json"}, RateLimitFormat("ratelimit-"), None),
    ],
)
def test_parse_rate_limit(headers: dict[str, str], fmt: RateLimitFormat, expected: RateLimitState | None) -> None:
    assert parse_rate_limit(headers, fmt, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "4"}, 4.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "Sun, 01 Mar 2026 11:00:00 GMT"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected
