"""GET /api/accounts/{id}/summary: the latest value per metric and the gains over 1, 7 and 30 days,
with growth rates, read through the account-versioned cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from sma_gateway import state
from sma_maintenance.operations import compact, refresh_rollups
from tests.integration.gateway.harness import Gateway, Seeder

NOW = datetime.now(UTC)
TODAY = NOW.date()


@pytest.fixture
async def old_partitions(db: asyncpg.Pool) -> None:
    """Daily partitions back to 40 days ago (a fresh database has yesterday onwards)."""
    await db.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, 41)", TODAY - timedelta(days=40))


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


async def summary(gateway: Gateway, account_id: int, query: str = "") -> dict[str, dict[str, object]]:
    reply = await gateway.call("GET", f"/api/accounts/{account_id}/summary{query}", scope="read")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["account_id"] == account_id
    return {row["metric"]: row for row in body["metrics"]}


@pytest.mark.usefixtures("old_partitions")
async def test_gains_and_growth_rates_over_1_7_and_30_days(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    account_id = await seed.account("twitch", handle="gainer")
    await seed.points(account_id, "followers", [
        (ago(days=35), 50.0), (ago(days=31), 100.0), (ago(days=8), 150.0), (ago(days=2), 200.0),
        (ago(hours=23), 230.0), (ago(hours=1), 260.0),
    ])
    await seed.points(account_id, "posts", [(ago(days=31), 0.0), (ago(hours=2), 5.0)])
    await seed.points(account_id, "following", [(ago(hours=3), 10.0)])

    rows = await summary(gateway, account_id)
    assert set(rows) == {"followers", "following", "posts"}  # no row for a metric without values
    followers = rows["followers"]
    assert followers["value"] == 260.0 and datetime.fromisoformat(str(followers["ts"])) == ago(hours=1)
    assert (followers["gain_1d"], followers["growth_rate_1d"]) == (60.0, pytest.approx(60 / 200))
    assert (followers["gain_7d"], followers["growth_rate_7d"]) == (110.0, pytest.approx(110 / 150))
    assert (followers["gain_30d"], followers["growth_rate_30d"]) == (160.0, pytest.approx(1.6))
    # From 0 there is a gain but no rate.
    assert (rows["posts"]["gain_30d"], rows["posts"]["growth_rate_30d"]) == (5.0, None)
    assert (rows["posts"]["gain_1d"], rows["posts"]["growth_rate_1d"]) == (5.0, None)
    # Nothing that old: no gain, no rate.
    assert all(rows["following"][f"{kind}_{n}d"] is None for kind in ("gain", "growth_rate") for n in (1, 7, 30))
    assert rows["following"]["value"] == 10.0

    # Closed days compacted into arrays (maintenance `compact`): the same summary from them.
    async with db.acquire() as conn:
        await refresh_rollups(conn)
        assert len((await compact(conn)).compacted) >= 3
    assert await db.fetchval("SELECT count(*) FROM metric_points WHERE account_id = $1", account_id) < 6
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    assert await summary(gateway, account_id) == rows


async def test_summary_names_the_account_and_flags_rounded_figures(gateway: Gateway, seed: Seeder) -> None:
    channel = await seed.account("youtube", handle="channel")
    await seed.points(channel, "subscribers", [(ago(hours=2), 1_230_000.0)])
    await seed.points(channel, "views", [(ago(hours=2), 5.0)])
    reply = await gateway.call("GET", f"/api/accounts/{channel}/summary", scope="read")
    body = reply.json()
    assert (body["platform"], body["handle"], body["display_name"]) == ("youtube", "channel", None)
    assert abs(datetime.fromisoformat(body["as_of"]) - datetime.now(UTC)) < timedelta(minutes=1)
    rounded = {row["metric"]: row["rounded"] for row in body["metrics"]}
    assert rounded == {"subscribers": True, "views": False}


async def test_an_account_without_points_has_an_empty_summary(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    assert await summary(gateway, account_id) == {}


async def test_unknown_account_is_a_404_problem(gateway: Gateway) -> None:
    for account in ("999999", "abc", "0"):
        reply = await gateway.call("GET", f"/api/accounts/{account}/summary", scope="read")
        assert reply.status == 404, (account, reply.body)
        assert reply.content_type == "application/problem+json"
        assert "No account" in reply.json()["detail"]


async def test_summary_is_cached_until_the_account_changes(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(ago(hours=3), 10.0)])
    first = await gateway.call("GET", f"/api/accounts/{account_id}/summary", scope="read")
    second = await gateway.call("GET", f"/api/accounts/{account_id}/summary", scope="read")
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] != "miss"
    assert second.body == first.body and second.headers["ETag"] == first.headers["ETag"]
    unchanged = await gateway.call("GET", f"/api/accounts/{account_id}/summary", scope="read",
                                   headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status == 304 and unchanged.body == b""

    # A collector writing a point bumps the account's version: the next read sees the point.
    await seed.points(account_id, "followers", [(ago(minutes=5), 12.0)])
    await gateway.service.app[state.CACHE].invalidate_account(account_id)
    rows = await summary(gateway, account_id)
    assert rows["followers"]["value"] == 12.0


async def test_summary_as_csv_has_one_row_per_metric(gateway: Gateway, seed: Seeder) -> None:
    account_id = await seed.account()
    await seed.points(account_id, "followers", [(ago(hours=30), 8.0), (ago(hours=3), 10.0)])
    await seed.points(account_id, "posts", [(ago(hours=3), 4.0)])
    reply = await gateway.call("GET", f"/api/accounts/{account_id}/summary?format=csv", scope="read")
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = reply.body.decode().splitlines()
    assert lines[0].split(",") == [
        "metric", "ts", "value", "rounded", "gain_1d", "growth_rate_1d", "gain_7d", "growth_rate_7d",
        "gain_30d", "growth_rate_30d",
    ]
    followers = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert (followers["metric"], followers["value"], followers["gain_1d"], followers["growth_rate_1d"]) == (
        "followers", "10.0", "2.0", "0.25",
    )
    assert followers["gain_7d"] == "" and followers["rounded"] == "false"
    assert lines[2].startswith("posts,")
    # JSON and CSV of the same summary are separate cache entries.
    as_json = await gateway.call("GET", f"/api/accounts/{account_id}/summary", scope="read")
    assert as_json.content_type == "application/json"
