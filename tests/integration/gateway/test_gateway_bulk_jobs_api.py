"""Bulk job changes: `PATCH /api/jobs?…`, `POST /api/jobs/pause?…` and `POST /api/jobs/resume?…`
change every job the filters match in one statement and answer `{"matched", "changed"}`."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from tests.integration.gateway.harness import Gateway, Seeder


async def job_rows(db: asyncpg.Pool, ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT id, interval_minutes, live_interval_minutes, status, next_run_at, updated_at "
        "FROM monitoring_jobs WHERE id = ANY($1)", ids,
    )
    return {row["id"]: row for row in rows}


async def test_patch_changes_only_the_filtered_jobs_and_counts_them(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool
) -> None:
    twitch_active = [await seed.job("twitch") for _ in range(3)]
    twitch_paused = [await seed.job("twitch", status="paused") for _ in range(2)]
    already = await seed.job("twitch", interval=120)
    bluesky = [await seed.job("bluesky") for _ in range(2)]

    reply = await gateway.call("PATCH", "/api/jobs?platform=twitch&status=active", json={"interval_minutes": 120})
    assert reply.status == 200, reply.body
    assert reply.json() == {"matched": 4, "changed": 3}  # the job already at 120 matched, not changed
    rows = await job_rows(db, twitch_active + twitch_paused + [already] + bluesky)
    assert {rows[j]["interval_minutes"] for j in twitch_active} == {120}
    assert {rows[j]["interval_minutes"] for j in twitch_paused + bluesky} == {15}
    # The new interval puts each job on its own slot within it, from now.
    now = datetime.now(UTC)
    assert all(now - timedelta(seconds=5) <= rows[j]["next_run_at"] <= now + timedelta(minutes=120)
               for j in twitch_active)

    again = await gateway.call("PATCH", "/api/jobs?platform=twitch&status=active", json={"interval_minutes": 120})
    assert again.json() == {"matched": 4, "changed": 0}
    assert await job_rows(db, twitch_active) == {j: rows[j] for j in twitch_active}  # untouched, same timestamps

    one = await db.fetchval("SELECT account_id FROM monitoring_jobs WHERE id = $1", bluesky[0])
    reply = await gateway.call("PATCH", f"/api/jobs?account_id={one}", json={"status": "paused"})
    assert reply.json() == {"matched": 1, "changed": 1}
    assert (await job_rows(db, [bluesky[0]]))[bluesky[0]]["status"] == "paused"


async def test_all_true_changes_every_job(gateway: Gateway, seed: Seeder) -> None:
    for platform in ("twitch", "bluesky", "youtube"):
        await seed.job(platform)
    reply = await gateway.call("PATCH", "/api/jobs?all=true", json={"interval_minutes": 30})
    assert reply.json() == {"matched": 3, "changed": 3}


async def test_pause_and_resume_are_idempotent_and_resume_reslots(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool
) -> None:
    twitch = [await seed.job("twitch", next_run_in=timedelta(days=3)) for _ in range(3)]
    other = await seed.job("bluesky")
    await seed.job("twitch", status="paused")

    reply = await gateway.call("POST", "/api/jobs/pause?platform=twitch")
    assert reply.status == 200, reply.body
    assert reply.json() == {"matched": 4, "changed": 3}
    assert (await gateway.call("POST", "/api/jobs/pause?platform=twitch")).json() == {"matched": 4, "changed": 0}
    rows = await job_rows(db, [*twitch, other])
    assert {rows[j]["status"] for j in twitch} == {"paused"} and rows[other]["status"] == "active"

    reply = await gateway.call("POST", "/api/jobs/resume?platform=twitch")
    assert reply.json() == {"matched": 4, "changed": 4}
    assert (await gateway.call("POST", "/api/jobs/resume?platform=twitch")).json() == {"matched": 4, "changed": 0}
    rows = await job_rows(db, twitch)
    now = datetime.now(UTC)
    for job in twitch:  # a resume runs next on the job's slot within its interval, not days away
        assert rows[job]["status"] == "active"
        assert rows[job]["next_run_at"] <= now + timedelta(minutes=15)
        assert rows[job]["next_run_at"] == await db.fetchval(
            "SELECT sma_job_slot(id, 15, $2) FROM monitoring_jobs WHERE id = $1", job,
            rows[job]["next_run_at"],
        )


async def test_bulk_routes_do_not_read_as_job_ids(gateway: Gateway, seed: Seeder) -> None:
    job = await seed.job("twitch")
    assert (await gateway.call("POST", f"/api/jobs/{job}/pause")).json()["status"] == "paused"
    assert (await gateway.call("POST", "/api/jobs/resume?platform=twitch")).json() == {"matched": 1, "changed": 1}
    # A bulk route's path is never a job id, whatever the method: 405 with what it allows, not 404.
    wrong_method = await gateway.call("GET", "/api/jobs/pause")
    assert (wrong_method.status, wrong_method.headers["Allow"]) == (405, "POST")


async def test_a_thousand_jobs_retimed_at_once_spread_over_the_new_interval(
    gateway: Gateway, db: asyncpg.Pool
) -> None:
    await db.execute(
        """
        WITH a AS (
            INSERT INTO accounts (platform, external_id, handle)
            SELECT 'twitch', 'ext-' || n, 'user_' || n FROM generate_series(1, 1000) AS n
            RETURNING id
        )
        INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, next_run_at)
        SELECT id, 'twitch', 60, now() + interval '10 minutes' FROM a
        """
    )
    reply = await gateway.call("PATCH", "/api/jobs?platform=twitch", json={"interval_minutes": 2})
    assert reply.json() == {"matched": 1000, "changed": 1000}

    times = [row["next_run_at"] for row in await db.fetch("SELECT next_run_at FROM monitoring_jobs")]
    start = min(times)
    assert max(times) - start < timedelta(minutes=2)
    per_second = Counter(int((t - start).total_seconds()) for t in times)
    mean = len(times) / 120
    assert max(per_second.values()) <= 3 * mean, per_second.most_common(3)
    assert len(per_second) >= 110  # nearly every second of the interval holds some


async def test_live_interval_in_bulk(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    twitch = [await seed.job("twitch", interval=30) for _ in range(2)]
    await seed.job("bluesky")

    reply = await gateway.call("PATCH", "/api/jobs?platform=twitch", json={"live_interval_minutes": 5})
    assert reply.json() == {"matched": 2, "changed": 2}
    assert {r["live_interval_minutes"] for r in (await job_rows(db, twitch)).values()} == {5}

    for path in ("/api/jobs?platform=bluesky", "/api/jobs?all=true"):
        refused = await gateway.call("PATCH", path, json={"live_interval_minutes": 5})
        assert refused.status == 422 and refused.content_type == "application/problem+json"
        assert "live_interval_minutes" in refused.json()["detail"]

    # Not shorter than a matched job's interval: refused by the database's check, and nothing changes.
    await seed.job("twitch", interval=10)
    refused = await gateway.call("PATCH", "/api/jobs?platform=twitch", json={"live_interval_minutes": 20})
    assert refused.status == 422 and "shorter than interval_minutes" in refused.json()["detail"]
    assert {r["live_interval_minutes"] for r in (await job_rows(db, twitch)).values()} == {5}

    removed = await gateway.call("PATCH", "/api/jobs?all=true", json={"live_interval_minutes": None})
    assert removed.json() == {"matched": 4, "changed": 2}


async def test_validation_problems(gateway: Gateway, seed: Seeder) -> None:
    await seed.job("twitch")
    cases = [
        ("PATCH", "/api/jobs", {"interval_minutes": 120}),  # no filter
        ("PATCH", "/api/jobs?status=active", {"interval_minutes": 120}),  # status alone is not explicit
        ("PATCH", "/api/jobs?all=false", {"interval_minutes": 120}),
        ("PATCH", "/api/jobs?platform=myspace", {"interval_minutes": 120}),
        ("PATCH", "/api/jobs?platform=twitch", {}),
        ("PATCH", "/api/jobs?platform=twitch", {"interval_minutes": 0}),
        ("PATCH", "/api/jobs?platform=twitch", {"interval_minutes": "120"}),
        ("PATCH", "/api/jobs?platform=twitch", {"colour": "red"}),
        ("PATCH", "/api/jobs?platform=twitch&status=done", {"status": "paused"}),
        ("POST", "/api/jobs/pause", None),
        ("POST", "/api/jobs/resume?platform=myspace", None),
        ("POST", "/api/jobs/pause?account_id=0", None),
    ]
    for method, path, body in cases:
        reply = await gateway.call(method, path, json=body)
        assert reply.status == 422, (method, path, body, reply.body)
        assert reply.content_type == "application/problem+json"
        assert reply.json()["type"] == "urn:sma:problem:validation-error"
    no_filter = await gateway.call("POST", "/api/jobs/pause")
    assert "all=true" in no_filter.json()["detail"]


async def test_bulk_writes_need_the_write_scope(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    job = await seed.job("twitch")
    for method, path in (("PATCH", "/api/jobs?platform=twitch"), ("POST", "/api/jobs/pause?platform=twitch"),
                         ("POST", "/api/jobs/resume?platform=twitch")):
        forbidden = await gateway.call(method, path, scope="read", json={"interval_minutes": 120})
        assert forbidden.status == 403 and forbidden.content_type == "application/problem+json"
        assert (await gateway.call(method, path, scope=None, json={"interval_minutes": 120})).status == 401
    row = (await job_rows(db, [job]))[job]
    assert (row["interval_minutes"], row["status"]) == (15, "active")
    admin = await gateway.call("POST", "/api/jobs/pause?platform=twitch", scope="admin")
    assert admin.json() == {"matched": 1, "changed": 1}
