import asyncpg

from tests.integration.gateway.harness import Gateway, create_api_key

PROBLEM = "application/problem+json"


async def test_api_without_key_is_401_problem(gateway: Gateway) -> None:
    reply = await gateway.call("GET", "/api/jobs", scope=None)
    assert reply.status == 401
    assert reply.content_type == PROBLEM
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    body = reply.json()
    assert body["status"] == 401 and body["instance"] == "/api/jobs"
    assert {"type", "title", "detail"} <= body.keys()


async def test_malformed_unknown_and_revoked_keys_are_401(gateway: Gateway, db: asyncpg.Pool) -> None:
    revoked = await create_api_key(db, ["admin"], name="revoked")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'revoked'")
    unknown = "sma_abcdefgh_" + "A" * 43
    for header in ("Basic dXNlcjpwYXNz", "Bearer not-a-key", f"Bearer {unknown}", f"Bearer {revoked}"):
        reply = await gateway.call("GET", "/api/jobs", scope=None, headers={"Authorization": header})
        assert reply.status == 401, header
        assert reply.content_type == PROBLEM


async def test_wrong_secret_for_a_known_prefix_is_401(gateway: Gateway) -> None:
    prefix = gateway.tokens["admin"].split("_")[1]
    forged = f"sma_{prefix}_" + "B" * 43
    reply = await gateway.call("GET", "/api/jobs", scope=None, headers={"Authorization": f"Bearer {forged}"})
    assert reply.status == 401


async def test_read_key_reads_but_cannot_write(gateway: Gateway) -> None:
    assert (await gateway.call("GET", "/api/jobs", scope="read")).status == 200
    reply = await gateway.call("POST", "/api/jobs", scope="read", json={"platform": "twitch", "account": "a"})
    assert reply.status == 403
    assert reply.content_type == PROBLEM
    assert "write" in reply.json()["detail"]


async def test_higher_scopes_include_lower_ones(gateway: Gateway) -> None:
    for scope in ("write", "admin"):
        assert (await gateway.call("GET", "/api/platforms", scope=scope)).status == 200


async def test_ops_routes_need_no_key(gateway: Gateway) -> None:
    for path in ("/health/live", "/health/ready", "/livez", "/readyz", "/metrics", "/health/detailed"):
        reply = await gateway.call("GET", path, scope=None)
        assert reply.status == 200, path


async def test_last_used_at_is_written_at_most_once_per_interval(gateway: Gateway, db: asyncpg.Pool) -> None:
    await gateway.call("GET", "/api/jobs", scope="read")
    first = await db.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'read-key'")
    assert first is not None
    # Rewind the stamp: a second request within the interval must not write it again.
    await db.execute("UPDATE api_keys SET last_used_at = '2000-01-01' WHERE name = 'read-key'")
    for _ in range(3):
        assert (await gateway.call("GET", "/api/jobs", scope="read")).status == 200
    again = await db.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'read-key'")
    assert again.year == 2000
