from __future__ import annotations

from typing import Any

import pytest

from sma_common.platforms import Platform
from sma_simulator.platforms.x import SUSPENDED
from sma_simulator.profiles.x import derived_id, is_protected
from tests.unit.simulator.harness import SimFactory, SimHarness

TOKEN = "sma-demo-x-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
X_DEVS = "2244994945"
FIELDS = "public_metrics,username,name"


async def _get(sim: SimHarness, path: str, headers: dict[str, str] | None = None, /,
               **params: str) -> tuple[int, Any, dict[str, str]]:
    response = await sim.client.get(f"/2/{path}", params=params, headers=AUTH if headers is None else headers)
    return response.status, await response.json(content_type=None), dict(response.headers)


async def test_users_lookup_speaks_the_v2_wire_format(sim: SimHarness) -> None:
    accounts = sim.ctx.world.accounts(Platform.X)
    ids = [a.id for a in accounts[:4]]
    status, body, headers = await _get(sim, "users", ids=",".join(ids), **{"user.fields": FIELDS})
    assert status == 200 and "errors" not in body
    assert [u["id"] for u in body["data"]] == ids and all(isinstance(u["id"], str) for u in body["data"])
    dev = body["data"][0]
    assert (dev["username"], dev["name"]) == ("XDevelopers", "Developers")
    assert set(dev["public_metrics"]) == {"followers_count", "following_count", "tweet_count", "listed_count"}
    assert (headers["x-rate-limit-limit"], headers["x-rate-limit-remaining"]) == ("300", "299")
    assert int(headers["x-rate-limit-reset"]) % 900 == 0  # the end of a 15-minute window, epoch seconds


async def test_without_user_fields_there_are_no_metrics(sim: SimHarness) -> None:
    _, body, _ = await _get(sim, "users/by", usernames="XDevelopers,sma_demo")
    assert body["data"][0] == {"id": X_DEVS, "name": "Developers", "username": "XDevelopers"}
    assert body["data"][1]["id"] == derived_id("sma_demo")


async def test_partial_results_use_the_top_level_errors_array(sim: SimHarness) -> None:
    suspended = next(iter(SUSPENDED))
    _, body, _ = await _get(sim, "users", ids=f"{X_DEVS},42,{suspended}", **{"user.fields": FIELDS})
    assert [u["id"] for u in body["data"]] == [X_DEVS]
    missing, gone = body["errors"]
    assert missing == {"value": "42", "detail": "Could not find user with ids: [42].", "title": "Not Found Error",
                       "resource_type": "user", "parameter": "ids", "resource_id": "42",
                       "type": "https://api.twitter.com/2/problems/resource-not-found"}
    assert (gone["title"], gone["detail"]) == ("Forbidden", f"User has been suspended: [{suspended}].")
    _, nothing, _ = await _get(sim, "users", ids="42")
    assert "data" not in nothing and nothing["errors"][0]["value"] == "42"


async def test_username_lookup_is_case_insensitive_and_single(sim: SimHarness) -> None:
    status, body, _ = await _get(sim, "users/by/username/xdevelopers", **{"user.fields": FIELDS})
    assert status == 200 and body["data"]["id"] == X_DEVS
    _, unknown, _ = await _get(sim, "users/by/username/nobody_here")
    assert unknown["errors"][0]["detail"] == "Could not find user with username: [nobody_here]."


async def test_protected_accounts_serve_no_listed_count(sim: SimHarness) -> None:
    protected = [a for a in sim.ctx.world.accounts(Platform.X) if is_protected(a)]
    assert protected
    _, body, _ = await _get(sim, "users", ids=protected[0].id, **{"user.fields": "public_metrics,protected"})
    user = body["data"][0]
    assert user["protected"] is True and "listed_count" not in user["public_metrics"]


@pytest.mark.parametrize(
    ("path", "params"),
    [("users", {}), ("users", {"ids": "abc"}), ("users", {"ids": ",".join(["1"] * 101)}),
     ("users/by", {"usernames": "bad-name"}), ("users/by/username/way_too_long_for_x_name", {})],
)
async def test_invalid_requests_are_400(sim: SimHarness, path: str, params: dict[str, str]) -> None:
    status, body, _ = await _get(sim, path, **params)
    assert (status, body["title"]) == (400, "Invalid Request")
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_a_bad_token_is_a_problem_json_401_without_limits(sim: SimHarness, headers: dict[str, str]) -> None:
    response = await sim.client.get("/2/users", params={"ids": X_DEVS}, headers=headers)
    assert response.status == 401 and response.content_type == "application/problem+json"
    assert await response.json(content_type=None) == {
        "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    assert not any(h.lower().startswith("x-rate-limit") for h in response.headers)


async def test_the_15_minute_window_per_endpoint(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_x_rate_limit=2)
    for remaining in ("1", "0"):
        assert (await _get(sim, "users", ids=X_DEVS))[2]["x-rate-limit-remaining"] == remaining
    status, body, headers = await _get(sim, "users", ids=X_DEVS)
    assert status == 429 and body == {
        "title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}
    assert headers["x-rate-limit-remaining"] == "0"
    assert (await _get(sim, "users/by", usernames="sma_demo"))[0] == 200  # another endpoint, another budget
    sim.clock.advance(15 * 60)
    assert (await _get(sim, "users", ids=X_DEVS))[0] == 200


async def test_faults(sim: SimHarness) -> None:
    now = int(sim.clock.now().timestamp())
    await sim.client.post("/_sim/faults", json={"platform": "x", "kind": "rate_limit", "retry_after_seconds": 30})
    status, _, headers = await _get(sim, "users", ids=X_DEVS)
    assert (status, headers["x-rate-limit-remaining"], headers["x-rate-limit-reset"]) == (429, "0", str(now + 30))
    await sim.client.post("/_sim/faults", json={"platform": "x", "kind": "server_error", "status": 503,
                                                "retry_after_seconds": 2})
    status, body, headers = await _get(sim, "users", ids=X_DEVS)
    assert (status, body["title"], headers["Retry-After"]) == (503, "Service Unavailable", "2")
    await sim.client.post("/_sim/faults", json={"platform": "x", "kind": "unauthorized"})
    assert (await _get(sim, "users", ids=X_DEVS))[0] == 401
