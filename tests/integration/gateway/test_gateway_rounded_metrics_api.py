from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.gateway.harness import Gateway, Seeder


def hours_ago(hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


async def test_youtube_subscribers_are_flagged_rounded_in_latest_values(gateway: Gateway, seed: Seeder) -> None:
    channel = await seed.account("youtube")
    await seed.points(channel, "subscribers", [(hours_ago(1), 1_230_000.0)])
    await seed.points(channel, "views", [(hours_ago(1), 98_765_432.0)])
    latest = (await gateway.call("GET", f"/api/accounts/{channel}", scope="read")).json()["latest"]
    assert latest["subscribers"]["rounded"] is True
    assert latest["subscribers"]["value"] == 1_230_000.0  # stored and served as the platform returned it
    assert latest["views"]["rounded"] is False


async def flags(gateway: Gateway, account_id: int, metric: str, resolution: str) -> list[bool]:
    path = f"/api/accounts/{account_id}/metrics?metric={metric}&resolution={resolution}"
    reply = await gateway.call("GET", path, scope="read")
    assert reply.status == 200, reply.body
    return [point["rounded"] for point in reply.json()]


@pytest.mark.parametrize("resolution", ["raw", "hour", "day"])
async def test_series_flag_rounded_per_platform_and_metric(gateway: Gateway, seed: Seeder, resolution: str) -> None:
    channel = await seed.account("youtube")
    streamer = await seed.account("twitch")
    start = hours_ago(3)
    await seed.points(channel, "subscribers", [(start, 1_230_000.0), (start + timedelta(hours=1), 1_240_000.0)])
    await seed.points(channel, "views", [(start, 98_765_432.0)])
    await seed.points(streamer, "followers", [(start, 4321.0)])

    subscribers = await flags(gateway, channel, "subscribers", resolution)
    assert subscribers and all(subscribers)
    assert (await flags(gateway, channel, "views", resolution)) == [False]
    assert (await flags(gateway, streamer, "followers", resolution)) == [False]


async def test_cached_series_keeps_the_flag(gateway: Gateway, seed: Seeder) -> None:
    channel = await seed.account("youtube")
    await seed.points(channel, "subscribers", [(hours_ago(1), 5_670.0)])
    path = f"/api/accounts/{channel}/metrics?metric=subscribers"
    first = await gateway.call("GET", path, scope="read")
    second = await gateway.call("GET", path, scope="read")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "local")
    assert [p["rounded"] for p in second.json()] == [True]
