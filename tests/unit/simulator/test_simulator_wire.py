from __future__ import annotations

import pytest

from sma_common.platforms import Platform
from tests.unit.simulator.harness import START, SimFactory, SimHarness

MISSING_IDS = {"error": "Bad Request", "status": 400, "message": "Must provide an ID, Login or OAuth Token"}


async def test_token_endpoint_checks_the_app_credentials(sim: SimHarness) -> None:
    bad_id = await sim.client.post("/oauth2/token", data={
        "client_id": "nope", "client_secret": "sma-demo-secret", "grant_type": "client_credentials"})
    assert (bad_id.status, await bad_id.json()) == (400, {"status": 400, "message": "invalid client"})
    bad_secret = await sim.client.post("/oauth2/token", params={
        "client_id": "sma-demo-client", "client_secret": "nope", "grant_type": "client_credentials"})
    assert (bad_secret.status, await bad_secret.json()) == (403, {"status": 403, "message": "invalid client secret"})
    good = await sim.client.post("/oauth2/token", data={
        "client_id": "sma-demo-client", "client_secret": "sma-demo-secret", "grant_type": "client_credentials"})
    body = await good.json()
    assert good.status == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == sim.ctx.settings.simulator_token_ttl_seconds
    assert len(body["access_token"]) == 30


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "OAuth token is missing"),
        ({"Authorization": "Bearer made-up", "Client-Id": "sma-demo-client"}, "Invalid OAuth token"),
        ({"Authorization": "Bearer {token}"}, "Client ID is missing"),
        ({"Authorization": "Bearer {token}", "Client-Id": "someone-else"}, "Client ID and OAuth token do not match"),
    ],
)
async def test_helix_refuses_bad_auth_with_401(sim: SimHarness, headers: dict[str, str], message: str) -> None:
    token = await sim.token()
    sent = {k: v.format(token=token) for k, v in headers.items()}
    response = await sim.client.get("/helix/users", params={"login": "twitchdev"}, headers=sent)
    assert response.status == 401
    assert await response.json() == {"error": "Unauthorized", "status": 401, "message": message}


async def test_tokens_expire(sim: SimHarness) -> None:
    token = await sim.token()
    sim.clock.advance(sim.ctx.settings.simulator_token_ttl_seconds)
    response = await sim.client.get("/helix/users", params={"id": "141981764"}, headers=sim.helix_headers(token))
    assert response.status == 401
    assert (await response.json())["message"] == "Invalid OAuth token"


async def test_users_by_id_and_login_with_rate_limit_headers(sim: SimHarness) -> None:
    token = await sim.token()
    params = [("id", "141981764"), ("login", "SMA_Demo_Music"), ("id", "1"), ("login", "twitchdev")]
    response = await sim.client.get("/helix/users", params=params, headers=sim.helix_headers(token))
    body = await response.json()
    assert response.status == 200
    assert [u["login"] for u in body["data"]] == ["twitchdev", "sma_demo_music"]
    assert {"id", "login", "display_name", "type", "broadcaster_type", "created_at"} <= set(body["data"][0])
    assert response.headers["Ratelimit-Limit"] == "800"
    assert response.headers["Ratelimit-Remaining"] == "799"
    assert int(response.headers["Ratelimit-Reset"]) == int(START.timestamp()) + 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([], MISSING_IDS),
        ([("id", str(i)) for i in range(101)],
         {"error": "Bad Request", "status": 400,
          "message": "The id and login parameters combined must not exceed 100"}),
    ],
)
async def test_users_bad_requests(sim: SimHarness, params: list[tuple[str, str]], expected: object) -> None:
    response = await sim.client.get("/helix/users", params=params, headers=sim.helix_headers(await sim.token()))
    assert (response.status, await response.json()) == (400, expected)


async def test_streams_report_live_channels_and_first_is_bounded(sim: SimHarness) -> None:
    headers = sim.helix_headers(await sim.token())
    accounts = sim.ctx.world.accounts(Platform.TWITCH)
    params = [("user_id", a.id) for a in accounts] + [("first", "100")]
    body = await (await sim.client.get("/helix/streams", params=params, headers=headers)).json()
    expected_live = {a.id for a in accounts if sim.ctx.world.stream(a, START) is not None}
    assert {s["user_id"] for s in body["data"]} == expected_live
    assert all(s["type"] == "live" for s in body["data"])
    too_many = await sim.client.get("/helix/streams", params={"first": "101"}, headers=headers)
    assert too_many.status == 400
    assert (await too_many.json())["message"] == (
        'The parameter "first" was malformed: the value must be less than or equal to 100')


async def test_streams_paginate_with_a_cursor(sim: SimHarness) -> None:
    headers = sim.helix_headers(await sim.token())
    seen: list[str] = []
    params: dict[str, str] = {"first": "1"}
    for _ in range(20):
        body = await (await sim.client.get("/helix/streams", params=params, headers=headers)).json()
        seen += [s["user_id"] for s in body["data"]]
        if "cursor" not in body["pagination"]:
            break
        params = {"first": "1", "after": body["pagination"]["cursor"]}
    live = [a for a in sim.ctx.world.accounts(Platform.TWITCH) if sim.ctx.world.stream(a, START) is not None]
    assert sorted(seen) == sorted(a.id for a in live)


async def test_followers_total_and_ledger(sim: SimHarness) -> None:
    headers = sim.helix_headers(await sim.token())
    response = await sim.client.get("/helix/channels/followers", params={"broadcaster_id": "141981764"},
                                    headers=headers)
    body = await response.json()
    twitchdev = sim.ctx.world.by_id(Platform.TWITCH, "141981764")
    assert twitchdev is not None
    assert body == {"total": sim.ctx.world.followers(twitchdev, START), "data": [], "pagination": {}}
    missing = await sim.client.get("/helix/channels/followers", headers=headers)
    assert missing.status == 400
    ledger = await (await sim.client.get("/_sim/ledger", params={"platform": "twitch"})).json()
    assert ledger["twitch"]["requests_by_endpoint"] == {"channels/followers": 2, "oauth2/token": 1}
    assert ledger["twitch"]["observations"] == [
        {"account_id": "141981764", "metric": "followers", "value": float(body["total"]), "ts": START.isoformat()}]


async def test_empty_bucket_answers_429_with_helix_body(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_twitch_points_per_minute=2)
    headers = sim.helix_headers(await sim.token())
    for _ in range(2):
        assert (await sim.client.get("/helix/users", params={"login": "twitchdev"}, headers=headers)).status == 200
    response = await sim.client.get("/helix/users", params={"login": "twitchdev"}, headers=headers)
    assert response.status == 429
    assert await response.json() == {"error": "Too Many Requests", "status": 429, "message": "Request limit exceeded"}
    assert response.headers["Ratelimit-Remaining"] == "0"
    assert int(response.headers["Ratelimit-Reset"]) == int(START.timestamp()) + 60


async def test_bluesky_profiles_and_errors(sim: SimHarness) -> None:
    one = await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "BSKY.app"})
    profile = await one.json()
    assert profile["did"] == "did:plc:z72i7hdynmk6r22z27h6tvur"
    assert {"followersCount", "followsCount", "postsCount", "handle", "displayName"} <= set(profile)
    assert one.headers["ratelimit-policy"] == "3000;w=300"
    unknown = await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "nobody.bsky.social"})
    assert (unknown.status, await unknown.json()) == (400, {"error": "InvalidRequest", "message": "Profile not found"})
    actors = [("actors", "sma-demo.bsky.social"), ("actors", "did:plc:missing"), ("actors", "bsky.app")]
    many = await (await sim.client.get("/xrpc/app.bsky.actor.getProfiles", params=actors)).json()
    assert [p["handle"] for p in many["profiles"]] == ["sma-demo.bsky.social", "bsky.app"]
    too_many = await sim.client.get("/xrpc/app.bsky.actor.getProfiles",
                                    params=[("actors", f"a{i}.test") for i in range(26)])
    assert (too_many.status, (await too_many.json())["message"]) == (
        400, "Error: actors must not have more than 25 elements")
    invalid = await sim.client.get("/xrpc/app.bsky.actor.getProfiles", params={"actors": "not a handle"})
    assert invalid.status == 400


async def test_bluesky_window_exhaustion(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_bluesky_rate_limit=1)
    assert (await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"})).status == 200
    response = await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"})
    assert (response.status, await response.json()) == (
        429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})
    assert response.headers["ratelimit-remaining"] == "0"


async def test_control_routes(sim: SimHarness) -> None:
    accounts = await (await sim.client.get("/_sim/accounts")).json()
    assert set(accounts) == {"twitch", "youtube", "bluesky", "x", "mastodon", "reddit"}
    assert accounts["youtube"][1]["handle"] == "@smademo"
    assert accounts["twitch"][0] == {"id": "141981764", "handle": "twitchdev", "display_name": "TwitchDev"}
    assert len(accounts["bluesky"]) == 12
    created = await sim.client.post("/_sim/faults", json={"platform": "bluesky", "kind": "server_error", "count": 2})
    assert created.status == 201
    assert (await created.json())["remaining"] == 2
    assert len(await (await sim.client.get("/_sim/faults")).json()) == 1
    failed = await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"})
    assert (failed.status, await failed.json()) == (
        500, {"error": "InternalServerError", "message": "Internal Server Error"})
    assert (await (await sim.client.delete("/_sim/faults")).json()) == {"cleared": 1}
    for bad in ({"platform": "myspace", "kind": "timeout"}, {"platform": "twitch", "kind": "nap"}):
        response = await sim.client.post("/_sim/faults", json=bad)
        assert response.status == 400
        assert "detail" in await response.json()
    assert (await sim.client.delete("/_sim/ledger")).status == 204
    ledger = await (await sim.client.get("/_sim/ledger")).json()
    assert ledger["bluesky"] == {"requests": 0, "requests_by_endpoint": {}, "observations": []}


async def test_request_metrics(sim: SimHarness) -> None:
    await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"})
    await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "nobody.bsky.social"})
    await sim.client.post("/_sim/faults", json={"platform": "bluesky", "kind": "rate_limit"})
    await sim.client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "bsky.app"})

    def sample(status_class: str) -> float | None:
        return sim.registry.get_sample_value("sma_simulator_requests_total", {
            "platform": "bluesky", "endpoint": "app.bsky.actor.getProfile", "status_class": status_class})

    assert (sample("2xx"), sample("4xx")) == (1.0, 2.0)
    assert sim.registry.get_sample_value(
        "sma_simulator_faults_injected_total", {"platform": "bluesky", "kind": "rate_limit"}) == 1.0
