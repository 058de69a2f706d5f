"""GET /api/platforms shows each platform's shared budget as the collectors left it in Redis."""

import time

from sma_common.rate_limit import Budget, SharedRateLimiter
from tests.integration.gateway.harness import Gateway

BLUESKY = Budget.fixed_window(3000, 300)


def by_platform(platforms: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(p["platform"]): p for p in platforms}


async def test_unused_budgets_are_full_and_unconfigured_platforms_say_so(gateway: Gateway) -> None:
    platforms = by_platform((await gateway.call("GET", "/api/platforms", scope="read")).json())
    assert list(platforms) == ["twitch", "youtube", "x", "reddit", "bluesky", "mastodon"]
    assert platforms["twitch"]["status"] == "unconfigured" and platforms["twitch"]["configured"] is False
    bluesky = platforms["bluesky"]
    assert bluesky["status"] == "ok" and bluesky["holds"] == []
    assert bluesky["budget"] == {"kind": "fixed_window", "limit": 3000, "window_seconds": 300, "remaining": 3000,
                                 "resets_at": None}
    assert platforms["twitch"]["budget"]["kind"] == "token_bucket"  # type: ignore[index]


async def test_spent_budget_and_holds_are_shown(gateway: Gateway, limiter: SharedRateLimiter) -> None:
    now = time.time()
    for _ in range(10):
        assert (await limiter.acquire("bluesky", "public", BLUESKY, now)).granted
    bluesky = by_platform((await gateway.call("GET", "/api/platforms")).json())["bluesky"]
    assert bluesky["status"] == "ok"
    assert bluesky["budget"]["remaining"] == 2990  # type: ignore[index]
    assert bluesky["budget"]["resets_at"] is not None  # type: ignore[index]

    await limiter.hold("bluesky", "public", now + 120, "rate_limited")
    await limiter.hold("mastodon", "mastodon.social", now + 60, "auth_error")
    platforms = by_platform((await gateway.call("GET", "/api/platforms")).json())
    assert platforms["bluesky"]["status"] == "rate_limited"
    assert [(h["scope"], h["reason"]) for h in platforms["bluesky"]["holds"]] == [(None, "rate_limited")]  # type: ignore[union-attr]
    # Per-instance holds name the instance and leave the platform itself ok.
    assert platforms["mastodon"]["status"] == "ok"
    assert [(h["scope"], h["reason"]) for h in platforms["mastodon"]["holds"]] == [  # type: ignore[union-attr]
        ("mastodon.social", "auth_error")
    ]


async def test_without_redis_the_budget_state_is_unknown(gateway_without_redis: Gateway) -> None:
    reply = await gateway_without_redis.call("GET", "/api/platforms")
    assert reply.status == 200
    platforms = by_platform(reply.json())
    assert platforms["bluesky"]["status"] == "unknown"
    assert platforms["twitch"]["status"] == "unconfigured"
