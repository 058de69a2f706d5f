"""Admin key routes and key verification on real Postgres and Redis: a token shown once and stored
hashed, scopes enforced (401/403), revocation effective at once on every replica even though
verified keys are kept in memory, and failures counted by reason."""

from __future__ import annotations

import asyncpg

from tests.integration.gateway.harness import Gateway, create_api_key, until


def _failures(gateway: Gateway, reason: str) -> float:
    value = gateway.service.registry.get_sample_value("sma_gateway_auth_failures_total", {"reason": reason})
    return value or 0.0


async def test_create_list_use_and_revoke_a_key(gateway: Gateway, db: asyncpg.Pool) -> None:
    created = await gateway.call("POST", "/api/keys", scope="admin", json={"name": "grafana", "scopes": ["write"]})
    assert created.status == 201, created.body
    key = created.json()
    assert key["scopes"] == ["read", "write"] and key["token"].startswith(f"sma_{key['prefix']}_")
    assert created.headers["Location"] == f"/api/keys/{key['id']}"
    assert created.headers["Cache-Control"] == "no-store"
    stored = await db.fetchval("SELECT secret_hash FROM api_keys WHERE id = $1", key["id"])
    assert key["token"].split("_", 2)[2].encode() not in bytes(stored)  # a hash, not the secret

    headers = {"Authorization": f"Bearer {key['token']}"}
    assert (await gateway.call("GET", "/api/jobs", scope=None, headers=headers)).status == 200

    listed = (await gateway.call("GET", "/api/keys", scope="admin")).json()
    mine = next(row for row in listed if row["id"] == key["id"])
    assert "token" not in mine and "secret_hash" not in mine and mine["revoked_at"] is None

    assert (await gateway.call("DELETE", f"/api/keys/{key['id']}", scope="admin")).status == 204
    # The key was verified from memory a moment ago; the revocation still applies at once.
    rejected = await gateway.call("GET", "/api/jobs", scope=None, headers=headers)
    assert rejected.status == 401 and rejected.content_type == "application/problem+json"
    assert (await gateway.call("DELETE", f"/api/keys/{key['id']}", scope="admin")).status == 404
    listed = (await gateway.call("GET", "/api/keys", scope="admin")).json()
    assert next(row for row in listed if row["id"] == key["id"])["revoked_at"] is not None


async def test_key_routes_need_admin_and_valid_bodies(gateway: Gateway) -> None:
    for scope in ("read", "write"):
        assert (await gateway.call("GET", "/api/keys", scope=scope)).status == 403
        assert (await gateway.call("POST", "/api/keys", scope=scope, json={"name": "x"})).status == 403
    assert (await gateway.call("GET", "/api/keys", scope=None)).status == 401
    for body in ({"name": ""}, {"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []},
                 {"name": "x", "extra": 1}, {"scopes": ["read"]}):
        reply = await gateway.call("POST", "/api/keys", scope="admin", json=body)
        assert reply.status == 422, (body, reply.body)
    for bad in ("abc", "0", "99999999999999999999", "1%2F..%2F"):
        assert (await gateway.call("DELETE", f"/api/keys/{bad}", scope="admin")).status == 404


async def test_auth_failures_are_counted_by_reason(gateway: Gateway) -> None:
    await gateway.call("GET", "/api/jobs", scope=None)
    await gateway.call("GET", "/api/jobs", scope=None, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    await gateway.call("GET", "/api/jobs", scope=None,
                       headers={"Authorization": "Bearer sma_aaaaaaaa_" + "A" * 43})
    await gateway.call("DELETE", "/api/keys/1", scope="read")
    assert [_failures(gateway, r) for r in ("missing", "malformed", "unknown_key", "scope")] == [1, 1, 1, 1]


async def test_a_revocation_reaches_the_other_replica_at_once(
    replicas: tuple[Gateway, Gateway], db: asyncpg.Pool
) -> None:

    a, b = replicas
    admin = await create_api_key(db, ["admin"], name="admin")
    victim = await create_api_key(db, ["read"], name="victim")
    victim_headers = {"Authorization": f"Bearer {victim}"}
    assert (await b.call("GET", "/api/jobs", scope=None, headers=victim_headers)).status == 200  # b keeps it
    key_id = await db.fetchval("SELECT id FROM api_keys WHERE name = 'victim'")
    revoke = await a.call("DELETE", f"/api/keys/{key_id}", scope=None, headers={"Authorization": f"Bearer {admin}"})
    assert revoke.status == 204

    async def rejected_on_b() -> bool:
        return (await b.call("GET", "/api/jobs", scope=None, headers=victim_headers)).status == 401

    await until(rejected_on_b, timeout=1.0)
