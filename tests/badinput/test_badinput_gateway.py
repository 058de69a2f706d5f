"""The running gateway (real Postgres and Redis, platforms on the simulator) under hostile input:
oversized and malformed bodies, wrong types, SQL-injection-shaped strings, path traversal in
ids, huge limits, reversed or decades-long time ranges. Every answer is a 4xx with a
problem+json body (or a 2xx where the input is legal), never a 5xx, and comes back in under a
second; afterwards no statement of the gateway's is still running in Postgres.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sma_gateway.app import build
from tests.fixtures.simulator import SimServer
from tests.integration.gateway.harness import Gateway, Reply, RunService, Seeder, create_api_key, gateway_settings

SLOW_SECONDS = 1.0
DAYS_OF_POINTS = 60
# aiohttp's limit on the request line (and on each header line), in bytes.
MAX_LINE = 8190
# More with SMA_BADINPUT_EXAMPLES (a deeper search than CI's, e.g. nightly).
EXAMPLES = settings(max_examples=int(os.environ.get("SMA_BADINPUT_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HOSTILE = [
    "' OR '1'='1", "1; DROP TABLE accounts; --", "1' UNION SELECT token_hash FROM api_keys --", "$1", "%",
    "\\x00", "a\x00b", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f", "....//", "{{7*7}}", "${jndi:x}",
    "\U0001d54f" * 50, "a" * 10_000, "-1", "0", "1e309", "NaN", "9" * 40, "[]", "{}", "null", "true", "\u202e",
    "https://[::1/@a", "x.com/[", "twitch.tv:99999999/a",
]
HOSTILE_TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60))
READ_PATHS = ["/api/jobs", "/api/accounts", "/api/jobs/{job}/executions", "/api/accounts/{account}/metrics",
              "/api/accounts/{account}/summary", "/api/leaderboard", "/api/keys", "/api/platforms"]
QUERY_NAMES = ["limit", "cursor", "platform", "status", "account_id", "metric", "from", "to", "resolution",
               "format", "period", "all"]


def assert_clean(reply: Reply, elapsed: float, what: str, *, request_line: int = 0) -> None:
    assert reply.status < 500, f"{what}: {reply.status} {reply.body[:300]!r}"
    assert elapsed < SLOW_SECONDS, f"{what}: took {elapsed:.2f}s"
    if request_line > MAX_LINE:
        # aiohttp's HTTP parser refuses the request line itself, before any of the gateway's code
        # runs, with a plain-text 400 (an ingress answers 414 there first).
        assert reply.status in (400, 414), f"{what}: {reply.status}"
        return
    if reply.status >= 400:
        assert reply.content_type == "application/problem+json", f"{what}: {reply.content_type}"
        problem = reply.json()
        assert problem["status"] == reply.status and problem["title"] and problem["type"], what
        assert "Traceback" not in reply.body.decode(errors="replace"), what


async def timed(gateway: Gateway, method: str, path: str, **kwargs: Any) -> tuple[Reply, float]:
    started = time.perf_counter()
    reply = await gateway.call(method, path, **kwargs)
    return reply, time.perf_counter() - started


async def no_statement_still_running(db: asyncpg.Pool) -> None:
    """Nothing the gateway started is still running once every answer is in (a cancelled request
    must not leave its query behind)."""
    await asyncio.sleep(0.2)
    rows = await db.fetch(
        "SELECT query, now() - query_start AS running FROM pg_stat_activity "
        "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()")
    assert not rows, rows


@pytest.fixture
async def hostile_gateway(database_url: str, redis_url: str, redis_prefix: str, run_service: RunService,
                          db: asyncpg.Pool, sim_server: SimServer) -> AsyncIterator[Gateway]:
    """The gateway with every platform on the simulator, keys of each scope, and one account with
    60 days of 15-minute points in 60 daily partitions (so wide ranges have rows to scan)."""
    # No per-key rate limit: hundreds of requests a second would otherwise meet 429s, not validation.
    settings_ = gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix, api_rate_limit_per_minute=0,
                                 **sim_server.platform_env())
    service, seed = build(settings_), Seeder(db)
    async with run_service(service) as url, aiohttp.ClientSession() as http:
        gateway = Gateway(url, http, service)
        for scope in ("read", "write", "admin"):
            gateway.tokens[scope] = await create_api_key(db, [scope], name=f"{scope}-key")
        job = await seed.job("twitch")
        account = await db.fetchval("SELECT account_id FROM monitoring_jobs WHERE id = $1", job)
        start = datetime.now(UTC) - timedelta(days=DAYS_OF_POINTS)
        await db.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, $2)", start.date(),
                         DAYS_OF_POINTS + 1)
        await seed.points(account, "followers", [(start + timedelta(minutes=15 * i), float(i))
                                                 for i in range(DAYS_OF_POINTS * 96)])
        gateway.tokens["job"], gateway.tokens["account"] = str(job), str(account)
        yield gateway


def fill(gateway: Gateway, path: str) -> str:
    return path.format(job=gateway.tokens["job"], account=gateway.tokens["account"])


@EXAMPLES
@given(path=st.sampled_from(READ_PATHS),
       query=st.dictionaries(st.sampled_from(QUERY_NAMES), HOSTILE_TEXT, min_size=1, max_size=4))
async def test_hostile_query_parameters_are_4xx_problems_or_answers(hostile_gateway: Gateway, path: str,
                                                                    query: dict[str, str]) -> None:
    qs = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
    target = f"{fill(hostile_gateway, path)}?{qs}"
    reply, elapsed = await timed(hostile_gateway, "GET", target, scope="admin")
    assert_clean(reply, elapsed, f"GET {path}?{qs[:200]}", request_line=len(target))


@EXAMPLES
@given(segment=st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=40)),
       template=st.sampled_from(["/api/jobs/{}", "/api/jobs/{}/executions", "/api/accounts/{}",
                                 "/api/accounts/{}/metrics?metric=followers", "/api/accounts/{}/summary",
                                 "/api/jobs/{}/pause", "/api/keys/{}"]))
async def test_hostile_ids_in_paths_name_nothing(hostile_gateway: Gateway, segment: str, template: str) -> None:
    path = template.format(quote(segment, safe=""))
    method = "POST" if path.endswith("/pause") else "DELETE" if path.startswith("/api/keys/") else "GET"
    reply, elapsed = await timed(hostile_gateway, method, path, scope="admin")
    assert_clean(reply, elapsed, f"{method} {path[:200]}", request_line=len(path))
    named = (404, 405, 422, 400) if len(path) > MAX_LINE else (404, 405, 422)
    assert reply.status in named or segment.strip() == hostile_gateway.tokens["account"], path


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              HOSTILE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=20), inner, max_size=3)),
    max_leaves=10,
)
BODY_FIELDS = ["platform", "account", "interval_minutes", "live_interval_minutes", "name", "scopes", "status"]


@EXAMPLES
@given(target=st.sampled_from([("POST", "/api/jobs"), ("PUT", "/api/jobs/{job}"), ("PATCH", "/api/jobs/{job}"),
                               ("PATCH", "/api/jobs?platform=twitch"), ("POST", "/api/keys")]),
       body=st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(BODY_FIELDS), JSON_VALUES, max_size=4),
                      st.fixed_dictionaries({"platform": st.sampled_from(["twitch", "youtube", "x", "reddit",
                                                                          "bluesky", "mastodon"]),
                                             "account": HOSTILE_TEXT})))
async def test_wrong_types_and_hostile_values_in_bodies(hostile_gateway: Gateway, target: tuple[str, str],
                                                        body: object) -> None:
    method, path = target[0], fill(hostile_gateway, target[1])
    reply, elapsed = await timed(hostile_gateway, method, path, scope="admin", json=body)
    # POST /api/jobs may resolve a legal handle on the simulator: that is a 201, not an error.
    assert_clean(reply, elapsed, f"{method} {path} {str(body)[:200]}")


async def test_an_unparseable_profile_url_names_no_account(hostile_gateway: Gateway) -> None:
    # Found by this suite: urlsplit raised ValueError on an unbalanced `[`, a 500 here.
    for platform in ("twitch", "youtube", "x", "reddit", "bluesky", "mastodon"):
        reply, elapsed = await timed(hostile_gateway, "POST", "/api/jobs", scope="write",
                                     json={"platform": platform, "account": "https://[::1/@a"})
        assert_clean(reply, elapsed, platform)
        assert reply.status == 422 and reply.json()["errors"][0]["name"] == "account", (platform, reply.body)


async def test_malformed_and_oversized_bodies(hostile_gateway: Gateway, db: asyncpg.Pool) -> None:
    gateway = hostile_gateway
    cases: list[tuple[str, bytes, dict[str, str], int]] = [
        ("truncated", b'{"platform": "twitch", "account": ', {}, 400),
        ("not json", b"platform=twitch&account=a", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
        ("invalid utf-8", b'{"account": "\xff\xfe"}', {}, 400),
        ("NaN", b'{"platform": "twitch", "account": "a", "interval_minutes": NaN}', {}, 400),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000, {}, 413),
        ("deep nesting within the size limit", b"[" * 20_000 + b"]" * 20_000, {}, 400),
        ("oversized", b'{"account": "' + b"a" * (2 * 1024 * 1024) + b'"}', {}, 413),
        ("huge integer", b'{"platform": "twitch", "account": "a", "interval_minutes": 1' + b"0" * 400 + b"}", {}, 400),
        ("array", b"[1, 2, 3]", {}, 422),
        ("string", b'"twitch"', {}, 422),
        ("duplicate keys", b'{"platform": "twitch", "platform": "x", "account": "a", "interval_minutes": "15"}', {},
         422),
    ]
    for name, body, headers, expected in cases:
        for method, path in (("POST", "/api/jobs"), ("PUT", f"/api/jobs/{gateway.tokens['job']}"),
                             ("POST", "/api/keys")):
            reply, elapsed = await timed(gateway, method, path, scope="admin", data=io.BytesIO(body),
                                         headers={"Content-Length": str(len(body)), **headers})
            assert_clean(reply, elapsed, f"{name}: {method} {path}")
            if not (name == "huge integer" and reply.status == 422):
                assert reply.status == expected or (expected == 400 and reply.status == 422), (name, method, reply)
    await no_statement_still_running(db)


async def test_limits_and_time_ranges(hostile_gateway: Gateway, db: asyncpg.Pool) -> None:
    gateway = hostile_gateway
    account = gateway.tokens["account"]
    series = f"/api/accounts/{account}/metrics?metric=followers"
    expectations = {
        # Huge or senseless limits: 422, never a query sized by the client.
        "/api/jobs?limit=1000000000": 422, "/api/jobs?limit=99999999999999999999999": 422,
        "/api/accounts?limit=-1": 422, "/api/accounts?limit=0": 422, "/api/leaderboard?metric=followers&limit=101": 422,
        f"{series}&limit=1000000000": 422, "/api/jobs?limit=1.5": 422, "/api/jobs?limit=1e3": 422,
        "/api/jobs?cursor=" + "A" * 600: 422, "/api/jobs?cursor=%00": 422,
        # Reversed, equal and out-of-range instants.
        f"{series}&from=2026-01-02&to=2026-01-01": 422, f"{series}&from=2026-01-01&to=2026-01-01": 422,
        f"{series}&from=0001-01-01&to=2026-01-01": 422, f"{series}&from=2026-01-01&to=99999-01-01": 422,
        f"{series}&from=1700000000": 422, f"{series}&from=2026-13-45": 422, f"{series}&from=2026-01-01T25:61:00Z": 422,
        f"{series}&from=2026-01-01T00:00:00%2B99:99": 422,
        # Decades and centuries, in every resolution: legal, answered from the rows there are, quickly.
        f"{series}&from=1970-01-01&to=8999-12-31&resolution=raw": 200,
        f"{series}&from=1970-01-01&to=8999-12-31&resolution=hour": 200,
        f"{series}&from=1970-01-01&to=8999-12-31&resolution=day": 200,
        f"{series}&from=1970-01-01&to=2100-01-01&resolution=day&format=csv": 200,
        f"{series}&from=1970-01-01&resolution=hour&limit=20000": 200,
    }
    for path, expected in expectations.items():
        reply, elapsed = await timed(gateway, "GET", path, scope="read")
        assert_clean(reply, elapsed, path)
        assert reply.status == expected, (path, reply.status, reply.body[:300])
    await no_statement_still_running(db)


async def test_bad_tokens_are_401_problems(hostile_gateway: Gateway) -> None:
    for header in ["Bearer", "Bearer ", "Bearer sma_x", "Bearer sma_" + "a" * 5000, "Basic YTpi", "Bearer ' OR 1=1 --",
                   f"Bearer {hostile_gateway.tokens['read']}x"]:
        reply, elapsed = await timed(hostile_gateway, "GET", "/api/jobs", scope=None,
                                     headers={"Authorization": header})
        assert_clean(reply, elapsed, header[:40])
        assert reply.status in (400, 401), (header[:40], reply.status)
