"""GET /api/leaderboard: top gainers in a metric over a day, week or month among tracked accounts,
validated, cached for the TTL, and planned as index probes rather than a scan of the points."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from sma_common.platforms import METRIC_IDS
from sma_gateway.repositories.analytics import LEADERBOARD_SQL
from sma_maintenance.operations import compact, refresh_rollups
from tests.fixtures.data import insert_job
from tests.integration.gateway.harness import Gateway, Seeder

NOW = datetime.now(UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


async def tracked(seed: Seeder, db: asyncpg.Pool, platform: str, handle: str,
                  followers: list[tuple[datetime, float]]) -> int:
    account_id = await seed.account(platform, handle=handle)
    await insert_job(db, account_id, platform)
    await seed.points(account_id, "followers", followers)
    return account_id


async def board(gateway: Gateway, query: str) -> list[dict[str, Any]]:
    reply = await gateway.call("GET", f"/api/leaderboard?{query}", scope="read")
    assert reply.status == 200, reply.body
    return list(reply.json())


async def test_top_gainers_over_a_day_and_a_week(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    # Yesterday's partition is the oldest a fresh database has: a "week" here reaches into it too.
    steady = await tracked(seed, db, "twitch", "steady", [(ago(hours=30), 100.0), (ago(hours=1), 150.0)])
    rocket = await tracked(seed, db, "twitch", "rocket", [(ago(hours=30), 10.0), (ago(hours=1), 210.0)])
    loser = await tracked(seed, db, "twitch", "loser", [(ago(hours=30), 500.0), (ago(hours=1), 450.0)])
    tube = await tracked(seed, db, "youtube", "tube", [(ago(hours=30), 0.0), (ago(hours=1), 120.0)])
    await tracked(seed, db, "twitch", "newcomer", [(ago(hours=2), 1.0), (ago(hours=1), 9999.0)])  # no day-old value
    untracked = await seed.account("twitch", handle="untracked")  # no job: not on the board
    await seed.points(untracked, "followers", [(ago(hours=30), 0.0), (ago(hours=1), 1e6)])

    rows = await board(gateway, "metric=followers&period=day")
    assert [(r["rank"], r["account_id"], r["gain"]) for r in rows] == [
        (1, rocket, 200.0), (2, tube, 120.0), (3, steady, 50.0), (4, loser, -50.0),
    ]
    top = rows[0]
    assert (top["platform"], top["handle"], top["start_value"], top["end_value"]) == ("twitch", "rocket", 10.0, 210.0)
    assert top["growth_rate"] == pytest.approx(20.0)
    assert datetime.fromisoformat(top["start_ts"]) == ago(hours=30)
    assert datetime.fromisoformat(top["end_ts"]) == ago(hours=1)
    assert rows[1]["growth_rate"] is None  # from 0: a gain but no rate
    assert rows[3]["growth_rate"] == pytest.approx(-0.1)

    twitch = await board(gateway, "metric=followers&period=day&platform=twitch&limit=2")
    assert [r["account_id"] for r in twitch] == [rocket, steady]
    # Nobody has a value from before a week ago.
    assert await board(gateway, "metric=followers&period=week") == []
    assert await board(gateway, "metric=posts&period=day") == []


@pytest.mark.parametrize(("query", "name"), [
    ("metric=likes&period=day", "metric"),
    ("period=day", "metric"),
    ("metric=followers&period=year", "period"),
    ("metric=followers&platform=myspace", "platform"),
    ("metric=followers&limit=0", "limit"),
    ("metric=followers&limit=101", "limit"),
    ("metric=followers&format=xml", "format"),
])
async def test_bad_queries_are_422(gateway: Gateway, query: str, name: str) -> None:
    reply = await gateway.call("GET", f"/api/leaderboard?{query}", scope="read")
    assert reply.status == 422, (query, reply.body)
    assert reply.content_type == "application/problem+json"
    assert any(name in e["name"] for e in reply.json()["errors"]), reply.body


async def test_board_is_cached_for_its_ttl(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    await tracked(seed, db, "twitch", "one", [(ago(hours=30), 1.0), (ago(hours=1), 2.0)])
    first = await gateway.call("GET", "/api/leaderboard?metric=followers&period=day", scope="read")
    second = await gateway.call("GET", "/api/leaderboard?metric=followers&period=day", scope="read")
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] != "miss"
    assert second.body == first.body
    other = await gateway.call("GET", "/api/leaderboard?metric=followers&period=day&limit=5", scope="read")
    assert other.headers["X-Cache"] == "miss"


async def test_board_as_csv_defuses_formulas_in_names(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    points = [(ago(hours=30), 1.0), (ago(hours=1), 3.0)]
    account_id = await tracked(seed, db, "twitch", '=HYPERLINK("http://x")', points)
    await db.execute("UPDATE accounts SET display_name = '@SUM(A1)' WHERE id = $1", account_id)
    reply = await gateway.call("GET", "/api/leaderboard?metric=followers&period=day",
                               headers={"Accept": "text/csv"}, scope="read")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = reply.body.decode().splitlines()
    assert lines[0] == ("rank,account_id,platform,handle,display_name,start_ts,start_value,end_ts,end_value,"
                        "gain,growth_rate,rounded")
    assert lines[1].startswith(f'1,{account_id},twitch,"\'=HYPERLINK(""http://x"")",\'@SUM(A1),')
    assert lines[1].endswith(",2.0,2.0,false")


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


async def test_board_probes_the_indexes_instead_of_scanning_points(db: asyncpg.Pool) -> None:
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    await db.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, 12)", today.date() - timedelta(days=10))
    await db.execute("""
        INSERT INTO accounts (platform, external_id, handle)
        SELECT 'twitch', 'ext-' || n, 'user' || n FROM generate_series(1, 60) n
    """)
    await db.execute("""
        INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, status, next_run_at)
        SELECT id, platform, 1, 'active', now() FROM accounts
    """)
    # 60 accounts x 2 metrics x a point every 10 minutes for 10 days: ~170k points, most of them
    # compacted afterwards (closed, rolled-up days), the last day and a half still rows.
    await db.execute("""
        INSERT INTO metric_points (account_id, metric, ts, value)
        SELECT a.id, m, t, a.id * 10 + extract(epoch FROM t) / 60
        FROM accounts a, unnest(ARRAY[1, 3]::smallint[]) m,
             generate_series($1::timestamptz - interval '10 days', $2::timestamptz, interval '10 minutes') t
    """, today, NOW - timedelta(minutes=1))
    async with db.acquire() as conn:
        await refresh_rollups(conn)
        assert (await compact(conn)).compacted
    await db.execute("ANALYZE")
    for since in (NOW - timedelta(days=1), NOW - timedelta(days=7)):  # a raw start, a compacted one
        params = (METRIC_IDS["followers"], None, NOW, since, 10)
        raw = await db.fetchval(f"EXPLAIN (FORMAT JSON) {LEADERBOARD_SQL}", *params)
        nodes = plan_nodes(json.loads(raw)[0]["Plan"])
        on_points = [(n["Node Type"], n["Relation Name"]) for n in nodes
                     if str(n.get("Relation Name", "")).startswith("metric_points")]
        assert {name for _, name in on_points} >= {"metric_points_compact"}, on_points
        scanned = [name for kind, name in on_points if "Index" not in kind and kind != "Bitmap Heap Scan"]
        # A sequential scan only of partitions compaction emptied: there is nothing in them to read.
        for name in scanned:
            assert await db.fetchval(f'SELECT count(*) FROM "{name}"') == 0, (name, on_points)
        # And the answer is right: every account gained the same, ties broken by id.
        rows = await db.fetch(LEADERBOARD_SQL, *params)
        assert [r["account_id"] for r in rows] == sorted(r["account_id"] for r in rows) and len(rows) == 10
        expected_gain = (rows[0]["end_ts"] - rows[0]["start_ts"]).total_seconds() / 60
        assert rows[0]["gain"] == pytest.approx(expected_gain)
        assert since - timedelta(minutes=10) < rows[0]["start_ts"] <= since
