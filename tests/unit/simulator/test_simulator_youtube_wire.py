from __future__ import annotations

import pytest

from sma_common.platforms import Platform
from tests.unit.simulator.harness import SimFactory, SimHarness

KEY = "sma-demo-youtube-key"
GOOGLE_DEVS = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


async def _channels(sim: SimHarness, **params: str) -> tuple[int, dict[str, object]]:
    response = await sim.client.get("/youtube/v3/channels", params=params)
    return response.status, await response.json()


def _reason(body: dict[str, object]) -> str:
    error = body["error"]
    assert isinstance(error, dict)
    return str(error["errors"][0]["reason"])


async def test_channels_list_speaks_the_data_api_wire_format(sim: SimHarness) -> None:
    accounts = sim.ctx.world.accounts(Platform.YOUTUBE)
    ids = [a.id for a in accounts[:4]]
    status, body = await _channels(sim, part="snippet,statistics", id=",".join([*ids, "UCaaaaaaaaaaaaaaaaaaaaaa"]),
                                   key=KEY, maxResults="50")
    assert status == 200 and body["kind"] == "youtube#channelListResponse"
    items = body["items"]
    assert isinstance(items, list) and sorted(i["id"] for i in items) == sorted(ids)
    statistics = next(i for i in items if i["id"] == GOOGLE_DEVS)["statistics"]
    assert all(isinstance(statistics[f], str) for f in ("viewCount", "subscriberCount", "videoCount"))
    assert statistics["hiddenSubscriberCount"] is False
    assert body["pageInfo"] == {"totalResults": 4, "resultsPerPage": 50}


async def test_nothing_found_has_no_items_key(sim: SimHarness) -> None:
    status, body = await _channels(sim, part="statistics", id="UCaaaaaaaaaaaaaaaaaaaaaa", key=KEY)
    assert status == 200 and "items" not in body and body["pageInfo"] == {"totalResults": 0, "resultsPerPage": 5}
    _, by_handle = await _channels(sim, part="snippet", forHandle="smademo", key=KEY)
    assert by_handle["items"][0]["snippet"]["customUrl"] == "@smademo"  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"part": "statistics", "id": GOOGLE_DEVS}, 403, "forbidden"),
        ({"part": "statistics", "id": GOOGLE_DEVS, "key": "wrong"}, 400, "badRequest"),
        ({"id": GOOGLE_DEVS, "key": KEY}, 400, "required"),
        ({"part": "statistics", "key": KEY}, 400, "missingRequiredParameter"),
        ({"part": "statistics", "id": ",".join([GOOGLE_DEVS] * 51), "key": KEY}, 400, "invalidParameter"),
    ],
)
async def test_errors_use_the_google_envelope(
    sim: SimHarness, params: dict[str, str], status: int, reason: str
) -> None:
    got, body = await _channels(sim, **params)
    assert (got, _reason(body)) == (status, reason)


async def test_daily_quota_counts_every_call_and_resets_at_pacific_midnight(start_sim: SimFactory) -> None:
    sim = await start_sim(simulator_youtube_daily_quota=2)
    assert (await _channels(sim, id=GOOGLE_DEVS, key=KEY))[0] == 400  # invalid requests cost quota too
    assert (await _channels(sim, part="statistics", id=GOOGLE_DEVS, key=KEY))[0] == 200
    status, body = await _channels(sim, part="statistics", id=GOOGLE_DEVS, key=KEY)
    assert (status, _reason(body)) == (403, "quotaExceeded")
    assert body["error"]["errors"][0]["domain"] == "youtube.quota"  # type: ignore[index]
    sim.clock.advance(20 * 3600)  # START is 04:00 PST; 20 hours later is the next Pacific day
    assert (await _channels(sim, part="statistics", id=GOOGLE_DEVS, key=KEY))[0] == 200
