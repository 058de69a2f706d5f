import asyncpg

from tests.integration.gateway.harness import Gateway, Seeder


async def test_ready_reports_database_redis_and_scheduler(gateway: Gateway, db: asyncpg.Pool) -> None:
    reply = await gateway.call("GET", "/health/ready", scope=None)
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    # No scheduler yet: reported as failing, but it never fails the gateway.
    assert body["checks"]["scheduler"]["status"] == "fail"
    assert "no scheduler heartbeat" in body["checks"]["scheduler"]["detail"]

    await db.execute(
        "INSERT INTO service_heartbeats (service, instance, last_seen) VALUES ('scheduler', 's-1', now())"
    )
    fresh = (await gateway.call("GET", "/readyz", scope=None)).json()["checks"]["scheduler"]
    assert fresh["status"] == "ok" and "ago" in fresh["detail"]

    await db.execute("UPDATE service_heartbeats SET last_seen = now() - interval '2 minutes'")
    stale = (await gateway.call("GET", "/health/ready", scope=None)).json()
    assert stale["status"] == "ok"
    assert stale["checks"]["scheduler"]["status"] == "fail"
    assert "120s ago" in stale["checks"]["scheduler"]["detail"]


async def test_gateway_writes_its_own_heartbeat(gateway: Gateway, db: asyncpg.Pool) -> None:
    row = await db.fetchrow("SELECT instance, details FROM service_heartbeats WHERE service = 'api-gateway'")
    assert row is not None and row["instance"] == "gateway-test"


async def test_metrics_exposes_cache_and_http_series(gateway: Gateway) -> None:
    await gateway.call("GET", "/api/jobs")
    text = (await gateway.call("GET", "/metrics", scope=None)).body.decode()
    assert 'sma_gateway_cache_requests_total{result="hit"}' in text
    assert 'sma_gateway_http_request_duration_seconds_count{method="GET",route="/api/jobs",status_class="2xx"}' in text


async def test_platforms_lists_every_platform(gateway: Gateway) -> None:
    platforms = (await gateway.call("GET", "/api/platforms", scope="read")).json()
    assert [p["platform"] for p in platforms] == ["twitch", "youtube", "x", "reddit", "bluesky", "mastodon"]
    assert all(isinstance(p["configured"], bool) for p in platforms)


async def test_without_redis_reads_still_work_and_ready_is_degraded(
    gateway_without_redis: Gateway, seed: Seeder
) -> None:
    gateway = gateway_without_redis
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(await seed.db.fetchval("SELECT now() - interval '1 hour'"), 3.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    for _ in range(3):
        reply = await gateway.call("GET", path)
        assert reply.status == 200
        assert reply.headers["X-Cache"] == "bypass"
        assert [p["value"] for p in reply.json()] == [3.0]
    # At most one failed Redis attempt (a read's or the cache-events subscriber's) opens the breaker;
    # reads then skip Redis instead of failing again.
    assert gateway.cache_count("error") <= 1
    assert gateway.cache_count("error") + gateway.cache_count("bypass") == 3

    ready = await gateway.call("GET", "/health/ready", scope=None)
    assert ready.status == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["redis"]["status"] == "degraded"
    assert (await gateway.call("GET", "/api/jobs")).status == 200
