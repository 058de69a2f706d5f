from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sma_common.platforms import Platform
from sma_simulator.profiles.mastodon import local_id
from sma_simulator.state import SimAccount
from tests.unit.simulator.harness import SimFactory, SimHarness

SOCIAL, LEGACY = "/mastodon/mastodon.social/api/v1", "/mastodon/legacy.example/api/v1"


def _account(sim: SimHarness, handle: str) -> SimAccount:
    return next(a for a in sim.ctx.world.accounts(Platform.MASTODON) if a.handle == handle)


async def test_lookup_speaks_the_account_entity_with_iso_rate_limit_headers(sim: SimHarness) -> None:
    response = await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smademo"})
    body = await response.json()
    demo = _account(sim, "smademo@mastodon.social")
    assert response.status == 200 and body["id"] == local_id(demo) == demo.id.removeprefix("mastodon.social:")
    assert (body["username"], body["acct"], body["url"]) == ("smademo", "smademo", "https://mastodon.social/@smademo")
    assert all(isinstance(body[f], int) for f in ("followers_count", "following_count", "statuses_count"))
    assert response.headers["X-RateLimit-Limit"] == "300" and response.headers["X-RateLimit-Remaining"] == "299"
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"])
    assert reset == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)  # the end of the 5-minute window
    assert response.headers["X-RateLimit-Reset"].endswith(".000000Z")


async def test_batch_route_on_4_3_omits_unknown_ids(sim: SimHarness) -> None:
    ids = [local_id(_account(sim, h)) for h in ("Mastodon@mastodon.social", "smademo@mastodon.social")]
    response = await sim.client.get(f"{SOCIAL}/accounts", params=[("id[]", i) for i in [*ids, "1"]])
    assert response.status == 200
    assert [a["id"] for a in await response.json()] == ids
    too_many = await sim.client.get(f"{SOCIAL}/accounts", params=[("id[]", str(n)) for n in range(41)])
    assert too_many.status == 422


async def test_legacy_instance_has_no_batch_route_but_serves_single_accounts(sim: SimHarness) -> None:
    old = _account(sim, "smaold@legacy.example")
    batch = await sim.client.get(f"{LEGACY}/accounts", params={"id[]": local_id(old)})
    assert batch.status == 404 and "X-RateLimit-Remaining" in batch.headers
    single = await sim.client.get(f"{LEGACY}/accounts/{local_id(old)}")
    assert single.status == 200 and (await single.json())["username"] == "smaold"
    assert sim.ctx.ledger.requests("mastodon", "legacy.example/api/v1/accounts") == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [(f"{SOCIAL}/accounts/1", {}), (f"{SOCIAL}/accounts/lookup", {"acct": "nobody"}),
     (f"{SOCIAL}/accounts/lookup", {"acct": "smaold"}),
     (f"{LEGACY}/accounts/lookup", {"acct": "smademo@other.example"})],
)
async def test_unknown_accounts_are_record_not_found(sim: SimHarness, path: str, params: dict[str, str]) -> None:
    response = await sim.client.get(path, params=params)
    assert (response.status, await response.json()) == (404, {"error": "Record not found"})


async def test_moved_suspended_and_hidden_accounts(sim: SimHarness) -> None:
    moved = await (await sim.client.get(f"{LEGACY}/accounts/lookup", params={"acct": "smamoved"})).json()
    assert moved["moved"]["acct"] == "smademo@mastodon.social"
    banned = await (await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smabanned"})).json()
    assert banned["suspended"] is True and banned["followers_count"] == 0
    quiet = await (await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smaquiet"})).json()
    assert "followers_count" not in quiet and "following_count" not in quiet and quiet["hide_collections"] is True


async def test_window_exhaustion_is_per_instance(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_mastodon_rate_limit=1)
    assert (await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smademo"})).status == 200
    limited = await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smademo"})
    assert (limited.status, await limited.json()) == (429, {"error": "Too many requests"})
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert (await sim.client.get(f"{LEGACY}/accounts/lookup", params={"acct": "smaold"})).status == 200


@pytest.mark.parametrize(("kind", "status"), [("rate_limit", 429), ("unauthorized", 401), ("server_error", 500)])
async def test_faults_target_one_instance(sim: SimHarness, kind: str, status: int) -> None:
    spec = {"platform": "mastodon", "kind": kind, "endpoint": "mastodon.social/api/v1/accounts/lookup"}
    assert (await sim.client.post("/_sim/faults", json=spec)).status == 201
    assert (await sim.client.get(f"{LEGACY}/accounts/lookup", params={"acct": "smaold"})).status == 200
    faulted = await sim.client.get(f"{SOCIAL}/accounts/lookup", params={"acct": "smademo"})
    assert faulted.status == status and "error" in await faulted.json()
    assert "X-RateLimit-Reset" in faulted.headers
