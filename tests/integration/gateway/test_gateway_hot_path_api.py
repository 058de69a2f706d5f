"""The hot read path (`sma_gateway.hot_path`) on real Postgres and Redis: a repeated cached read
answered from memory says and sends exactly what the full path does, and every check the full
path makes still holds on it (revoked and wrong keys, rate limits, next-page links, 304s)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.integration.gateway.conftest import _started
from tests.integration.gateway.harness import (
    Gateway,
    Reply,
    RunService,
    Seeder,
    gateway_settings,
    subscribed,
    until,
)

# Headers that differ between any two answers to the same request.
_PER_REQUEST = {"Date", "X-Request-ID"}


def _served(gateway: Gateway) -> int:
    details = gateway.service.details()["hot_reads"]
    assert isinstance(details, dict)
    return int(details["served"])


def _stable_headers(reply: Reply) -> dict[str, str]:
    return {name: value for name, value in reply.headers.items() if name not in _PER_REQUEST}


async def _series(seed: Seeder, points: int = 1) -> int:
    account_id = await seed.account()
    now = datetime.now(UTC).replace(microsecond=0)
    values = [(now - timedelta(minutes=10 * (i + 1)), float(i)) for i in range(points)]
    await seed.points(account_id, "followers", values)
    return account_id


@pytest.fixture
async def live_gateway(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    """Rate limits off, so which path answers does not depend on a lease running out mid-test."""
    settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix, api_rate_limit_per_minute=0)
    async for started in _started(settings, run_service, db):
        await until(lambda g=started: subscribed(g))  # the in-process tier is on only while subscribed
        yield started


async def test_a_hot_read_sends_exactly_what_the_full_path_sends(live_gateway: Gateway, seed: Seeder) -> None:
    gateway = live_gateway
    account_id = await _series(seed, points=3)
    loaded = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers", scope="read")
    assert loaded.headers["X-Cache"] == "miss"
    # Another URL naming the same entry: the full path serves it from memory once, then the hot path.
    path = f"/api/accounts/{account_id}/metrics?metric=followers&resolution=raw"
    before = _served(gateway)
    counted = gateway.requests_counted("/api/accounts/{id}/metrics", "GET", 200)
    full = await gateway.call("GET", path, scope="read")
    hot = await gateway.call("GET", path, scope="read")
    assert _served(gateway) == before + 1
    # Answered before routing, yet counted under the route template like any other request.
    assert gateway.requests_counted("/api/accounts/{id}/metrics", "GET", 200) == counted + 2
    assert full.status == hot.status == 200
    assert full.headers["X-Cache"] == hot.headers["X-Cache"] == "local"
    assert _stable_headers(full) == _stable_headers(hot)
    assert full.body == hot.body == loaded.body
    assert len(hot.headers["X-Request-ID"]) == 32
    # CSV by Accept is another representation, so another hot URL.
    csv = [await gateway.call("GET", path, scope="read", headers={"Accept": "text/csv"}) for _ in range(2)]
    assert [reply.content_type for reply in csv] == ["text/csv", "text/csv"]
    assert csv[0].body == csv[1].body and csv[1].body.startswith(b"ts,value,rounded")


async def test_summary_and_leaderboard_are_hot_too(live_gateway: Gateway, seed: Seeder) -> None:
    gateway = live_gateway
    account_id = await _series(seed)
    for path in (f"/api/accounts/{account_id}/summary", "/api/leaderboard?metric=followers"):
        before = _served(gateway)
        replies = [await gateway.call("GET", path, scope="read") for _ in range(3)]
        assert [reply.status for reply in replies] == [200, 200, 200]
        assert replies[0].body == replies[1].body == replies[2].body
        assert _served(gateway) - before == 2, path  # the first read loads, the next two are hot


async def test_a_revoked_or_wrong_key_is_refused_on_a_hot_url(live_gateway: Gateway, seed: Seeder) -> None:
    gateway = live_gateway
    account_id = await _series(seed)
    created = (await gateway.call("POST", "/api/keys", scope="admin", json={"name": "dash", "scopes": ["read"]})).json()
    token = created["token"]
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    auth = {"Authorization": f"Bearer {token}"}
    assert [(await gateway.call("GET", path, scope=None, headers=auth)).status for _ in range(3)] == [200, 200, 200]
    assert _served(gateway) >= 1

    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = await gateway.call("GET", path, scope=None, headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status == 401

    assert (await gateway.call("DELETE", f"/api/keys/{created['id']}", scope="admin")).status == 204
    revoked = await gateway.call("GET", path, scope=None, headers=auth)
    assert revoked.status == 401 and revoked.content_type == "application/problem+json"


async def test_a_page_with_a_next_one_keeps_its_link(live_gateway: Gateway, seed: Seeder) -> None:
    gateway = live_gateway
    account_id = await _series(seed, points=3)
    path = f"/api/accounts/{account_id}/metrics?metric=followers&limit=1"
    replies = [await gateway.call("GET", path, scope="read") for _ in range(3)]
    assert all('rel="next"' in reply.headers["Link"] for reply in replies)
    assert replies[2].headers["X-Cache"] == "local" and replies[2].body == replies[1].body


async def test_a_conditional_hot_read_gets_a_304(live_gateway: Gateway, seed: Seeder) -> None:
    gateway = live_gateway
    account_id = await _series(seed)
    path = f"/api/accounts/{account_id}/summary"
    etag = (await gateway.call("GET", path, scope="read")).headers["ETag"]
    before = _served(gateway)
    not_modified = await gateway.call("GET", path, scope="read", headers={"If-None-Match": etag})
    assert _served(gateway) == before + 1
    assert not_modified.status == 304 and not_modified.body == b""
    assert not_modified.headers["ETag"] == etag and not_modified.headers["X-Cache"] == "local"


BURST = 100  # leases of 5 requests (5% of the burst)


@pytest.fixture
async def limited(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    """A bucket of 100 refilled at 1 a minute: hot reads must spend it like any other request."""
    settings = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix,
                                api_rate_limit_per_minute=1, api_rate_limit_burst=BURST)
    async for started in _started(settings, run_service, db):
        await until(lambda g=started: subscribed(g))
        yield started


async def test_hot_reads_spend_the_key_rate_limit(limited: Gateway, seed: Seeder) -> None:
    account_id = await _series(seed)
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    statuses = [(await limited.call("GET", path, scope="read")).status for _ in range(BURST + 20)]
    assert _served(limited) > BURST // 2  # leased requests were answered on the hot path
    assert statuses.count(200) <= BURST  # and never beyond the bucket
    assert statuses.count(429) >= 20 and set(statuses) == {200, 429}
    assert statuses[-1] == 429
