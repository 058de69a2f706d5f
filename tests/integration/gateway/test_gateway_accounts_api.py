import asyncio
from datetime import UTC, datetime, timedelta

from sma_gateway import state
from tests.integration.gateway.harness import Gateway, Seeder


def hour_start(hours_ago: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


async def test_list_accounts_paginates_and_filters(gateway: Gateway, seed: Seeder) -> None:
    twitch = [await seed.account("twitch") for _ in range(3)]
    bluesky = await seed.account("bluesky")
    first = await gateway.call("GET", "/api/accounts?limit=3", scope="read")
    assert [a["id"] for a in first.json()] == twitch
    assert 'rel="next"' in first.headers["Link"]
    rest_path = first.headers["Link"].split(">")[0].lstrip("<")
    assert [a["id"] for a in (await gateway.call("GET", rest_path)).json()] == [bluesky]
    only_bluesky = (await gateway.call("GET", "/api/accounts?platform=bluesky")).json()
    assert [a["id"] for a in only_bluesky] == [bluesky]
    assert only_bluesky[0]["job_id"] is None


async def test_account_detail_has_job_and_latest_values(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account("twitch")
    job_id = await seed.job(account_id=account_id)
    start = hour_start(2)
    await seed.points(account_id, "followers", [(start, 10), (start + timedelta(minutes=5), 12)])
    await seed.points(account_id, "is_live", [(start, 1)])
    account = (await gateway.call("GET", f"/api/accounts/{account_id}")).json()
    assert account["id"] == account_id and account["job_id"] == str(job_id)
    assert account["latest"]["followers"]["value"] == 12
    assert datetime.fromisoformat(account["latest"]["followers"]["ts"]) == start + timedelta(minutes=5)
    assert set(account["latest"]) == {"followers", "is_live"}


async def test_latest_values_include_compacted_days(gateway: Gateway, seed: Seeder) -> None:
    """An account whose last points were folded into the compact layout still shows them."""
    account_id = await seed.account("twitch")
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    await seed.db.execute(
        "INSERT INTO metric_points_compact (account_id, metric, day, ts, value) "
        "VALUES ($1, (SELECT id FROM metrics WHERE name = 'followers'), $2::date, $3, $4)",
        account_id, day.date(), [day, day + timedelta(hours=6)], [7.0, 9.0],
    )
    account = (await gateway.call("GET", f"/api/accounts/{account_id}")).json()
    assert account["latest"]["followers"]["value"] == 9.0
    assert datetime.fromisoformat(account["latest"]["followers"]["ts"]) == day + timedelta(hours=6)


async def test_raw_series_in_range(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    start = hour_start(3)
    points = [(start + timedelta(minutes=20 * i), float(100 + i)) for i in range(6)]
    await seed.points(account_id, "followers", points)
    await seed.points(account_id, "posts", [(start, 7.0)])
    everything = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers", scope="read")
    assert everything.status == 200
    assert [p["value"] for p in everything.json()] == [p[1] for p in points]
    assert set(everything.json()[0]) == {"ts", "value", "rounded"}

    frm = (start + timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    to = (start + timedelta(minutes=60)).isoformat().replace("+00:00", "Z")
    path = f"/api/accounts/{account_id}/metrics?metric=followers&from={frm}&to={to}"
    window = (await gateway.call("GET", path)).json()
    assert [p["value"] for p in window] == [101.0, 102.0]  # [from, to)


async def test_hour_buckets(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    first_hour, second_hour = hour_start(3), hour_start(2)
    await seed.points(account_id, "followers", [
        (first_hour + timedelta(minutes=1), 5.0), (first_hour + timedelta(minutes=30), 9.0),
        (first_hour + timedelta(minutes=59), 7.0), (second_hour + timedelta(minutes=10), 11.0),
    ])
    reply = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&resolution=hour")
    buckets = reply.json()
    assert [datetime.fromisoformat(b["ts"]) for b in buckets] == [first_hour, second_hour]
    assert buckets[0] == {
        "ts": buckets[0]["ts"], "value": 7.0, "min": 5.0, "max": 9.0, "first": 5.0, "last": 7.0, "count": 3,
        "rounded": False,
    }
    assert buckets[1]["count"] == 1 and buckets[1]["value"] == 11.0
    days = (await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&resolution=day")).json()
    assert sum(b["count"] for b in days) == 4


async def test_series_pages_by_from_in_the_link(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    start = hour_start(2)
    await seed.points(account_id, "followers", [(start + timedelta(minutes=i), float(i)) for i in range(5)])
    first = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&limit=3")
    assert [p["value"] for p in first.json()] == [0.0, 1.0, 2.0]
    rest_path = first.headers["Link"].split(">")[0].lstrip("<")
    rest = await gateway.call("GET", rest_path)
    assert [p["value"] for p in rest.json()] == [3.0, 4.0]
    assert "Link" not in rest.headers


async def test_series_validation(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    base = f"/api/accounts/{account_id}/metrics"
    for query, name in (
        ("?metric=likes", "metric"),
        ("", "metric"),
        ("?metric=followers&resolution=week", "resolution"),
        ("?metric=followers&from=yesterday", "from"),
        ("?metric=followers&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ):
        reply = await gateway.call("GET", base + query)
        assert reply.status == 422, (query, reply.body)
        assert any(name in error["name"] or name in error["detail"] for error in reply.json()["errors"]), reply.body


async def test_second_identical_read_is_served_from_memory(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(hour_start(1), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers&resolution=hour"
    first = await gateway.call("GET", path)
    second = await gateway.call("GET", path)
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "local"
    assert second.body == first.body
    assert gateway.cache_count("local") == 1 and gateway.cache_count("miss") == 1

    # A different range is a different entry; invalidating the account retires both.
    other = await gateway.call("GET", path + "&from=2026-01-01T00:00:00Z")
    assert other.headers["X-Cache"] == "miss"
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    assert (await gateway.call("GET", path)).headers["X-Cache"] == "miss"


async def test_concurrent_reads_agree(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(hour_start(1), 1.0)])
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    replies = await asyncio.gather(*(gateway.call("GET", path) for _ in range(10)))
    assert all(r.status == 200 and r.body == replies[0].body for r in replies)
    assert sum(gateway.cache_count(result) for result in ("miss", "coalesced", "hit", "local")) == 10
    assert gateway.cache_count("miss") == 1  # single-flight: one load for the burst
