from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from sma_common.platforms import Platform
from sma_simulator.profiles.reddit import PRIVATE_SUBREDDIT, derived_id
from tests.unit.simulator.harness import SimFactory, SimHarness

UA = "test:sma-tests:0.1 (by /u/sma_demo)"


def _basic(sim: SimHarness, secret: str | None = None) -> str:
    settings = sim.ctx.settings
    secret = settings.simulator_reddit_client_secret.get_secret_value() if secret is None else secret
    return "Basic " + base64.b64encode(f"{settings.simulator_reddit_client_id}:{secret}".encode()).decode()


async def _token(sim: SimHarness) -> str:
    response = await sim.client.post("/reddit-auth/api/v1/access_token", data={"grant_type": "client_credentials"},
                                     headers={"Authorization": _basic(sim), "User-Agent": UA})
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["scope"] == "*"
    return str(body["access_token"])


async def _get(sim: SimHarness, path: str, token: str, **params: str) -> tuple[int, object, dict[str, str]]:
    response = await sim.client.get(f"/reddit{path}", params=params,
                                    headers={"Authorization": f"bearer {token}", "User-Agent": UA})
    body = await response.json() if response.content_type == "application/json" else await response.text()
    return response.status, body, {k.lower(): v for k, v in response.headers.items()}


async def test_api_info_is_a_listing_of_t5_things_with_rate_limit_headers(sim: SimHarness) -> None:
    token = await _token(sim)
    status, body, headers = await _get(sim, "/api/info", token, sr_name="announcements,SMADemo,nosuchsub,"
                                       + PRIVATE_SUBREDDIT)
    assert status == 200 and isinstance(body, dict) and body["kind"] == "Listing"
    children = body["data"]["children"]
    assert [c["kind"] for c in children] == ["t5", "t5"]
    assert {c["data"]["name"] for c in children} == {"t5_2r0ij", derived_id("smademo")}
    announcements = next(c["data"] for c in children if c["data"]["display_name"] == "announcements")
    assert isinstance(announcements["subscribers"], int) and "active_user_count" in announcements
    assert headers["x-ratelimit-used"] == "1" and headers["x-ratelimit-remaining"] == "599.0"
    assert 0 < int(headers["x-ratelimit-reset"]) <= 600


async def test_more_than_100_names_is_a_400(sim: SimHarness) -> None:
    status, body, _ = await _get(sim, "/api/info", await _token(sim), sr_name=",".join(["a1"] * 101))
    assert (status, body) == (400, {"message": "Bad Request", "error": 400})


async def test_about_404_and_private_403(sim: SimHarness) -> None:
    token = await _token(sim)
    assert (await _get(sim, "/r/nosuchsub/about", token))[:2] == (404, {"message": "Not Found", "error": 404})
    status, body, _ = await _get(sim, f"/r/{PRIVATE_SUBREDDIT}/about", token)
    assert (status, body) == (403, {"message": "Forbidden", "error": 403, "reason": "private"})
    status, body, _ = await _get(sim, "/user/watchful1/about", token)
    assert status == 200 and isinstance(body, dict) and body["kind"] == "t2" and body["data"]["id"] == "d0z23"


async def test_user_data_by_account_ids_is_keyed_by_fullname_without_total_karma(sim: SimHarness) -> None:
    token = await _token(sim)
    user = derived_id("u/smademo_user")
    status, body, headers = await _get(sim, "/api/user_data_by_account_ids", token,
                                       ids=f"t2_d0z23,{user},t2_zzzzzzz,{derived_id('smademo')}")
    assert status == 200 and isinstance(body, dict) and set(body) == {"t2_d0z23", user}
    assert set(body["t2_d0z23"]) == {"name", "created_utc", "link_karma", "comment_karma", "profile_img",
                                     "profile_color", "profile_over_18"}
    assert body["t2_d0z23"]["name"] == "Watchful1" and isinstance(body["t2_d0z23"]["link_karma"], int)
    assert headers["x-ratelimit-used"] == "1"
    assert sim.ctx.ledger.requests("reddit", "api/user_data_by_account_ids") == 1
    served = {(o.account_id, o.metric) for o in sim.ctx.ledger.observations("reddit")}
    assert served == {(a, m) for a in ("t2_d0z23", user) for m in ("karma_link", "karma_comment")}


async def test_user_data_404_when_none_exists_and_400_over_100_ids(sim: SimHarness) -> None:
    token = await _token(sim)
    status, body, _ = await _get(sim, "/api/user_data_by_account_ids", token, ids="t2_zzzzzzz,t2_zzzzzz1")
    assert (status, body) == (404, {"message": "Not Found", "error": 404})
    too_many = ",".join(f"t2_zz{n:05d}" for n in range(101))
    status, body, _ = await _get(sim, "/api/user_data_by_account_ids", token, ids=too_many)
    assert (status, body) == (400, {"message": "Bad Request", "error": 400})


async def test_bad_basic_auth_and_an_expired_token_are_401(sim: SimHarness) -> None:
    response = await sim.client.post("/reddit-auth/api/v1/access_token", data={"grant_type": "client_credentials"},
                                     headers={"Authorization": _basic(sim, "nope"), "User-Agent": UA})
    assert response.status == 401
    token = await _token(sim)
    sim.clock.advance(timedelta(hours=1).total_seconds())
    status, body, headers = await _get(sim, "/api/info", token, sr_name="smademo")
    assert (status, body) == (401, {"message": "Unauthorized", "error": 401})
    assert 'error="invalid_token"' in headers["www-authenticate"]


@pytest.mark.parametrize("agent", ["", "python-requests/2.25.1"])
async def test_a_missing_or_generic_user_agent_gets_the_html_429(sim: SimHarness, agent: str) -> None:
    response = await sim.client.get("/reddit/api/info", params={"sr_name": "smademo"},
                                    headers={"User-Agent": agent, "Authorization": "bearer x"},
                                    skip_auto_headers=["User-Agent"])
    assert response.status == 429 and response.headers["retry-after"] == "4"
    assert "whoa there, pardner!" in await response.text()


async def test_rate_limit_faults_answer_json_or_html(sim: SimHarness) -> None:
    token = await _token(sim)
    await sim.client.post("/_sim/faults", json={"platform": "reddit", "kind": "rate_limit"})
    status, body, headers = await _get(sim, "/api/info", token, sr_name="smademo")
    assert (status, body) == (429, {"message": "Too Many Requests", "error": 429})
    assert not any(h.lower().startswith("x-ratelimit") for h in headers) and "retry-after" not in headers
    await sim.client.post("/_sim/faults", json={"platform": "reddit", "kind": "rate_limit", "retry_after_seconds": 4})
    status, text, headers = await _get(sim, "/api/info", token, sr_name="smademo")
    assert status == 429 and "whoa there" in str(text) and headers["retry-after"] == "4"


async def test_an_empty_window_is_a_json_429(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_reddit_rate_limit=2)
    token = await _token(sim)
    statuses = [(await _get(sim, "/api/info", token, sr_name="smademo"))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    _, body, headers = await _get(sim, "/api/info", token, sr_name="smademo")
    assert body == {"message": "Too Many Requests", "error": 429} and headers["x-ratelimit-remaining"] == "0.0"
    assert sim.ctx.world.by_handle(Platform.REDDIT, "announcements") is not None
