import re
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.integration.gateway.harness import Gateway, Seeder

JOB_FIELDS = {
    "id", "account_id", "platform", "handle", "display_name", "external_id", "interval_minutes", "status",
    "next_run_at", "last_run_at", "last_status", "consecutive_failures", "created_at", "updated_at",
    "live_interval_minutes", "is_live",
}


def next_path(link: str | None) -> str | None:
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


async def collect_pages(gateway: Gateway, path: str) -> list[list[dict[str, object]]]:
    pages = []
    next_page: str | None = path
    while next_page is not None:
        reply = await gateway.call("GET", next_page, scope="read")
        assert reply.status == 200, reply.body
        pages.append(reply.json())
        next_page = next_path(reply.headers.get("Link"))
    return pages


async def test_list_filters_and_paginates_with_link_headers(gateway: Gateway, seed: Seeder) -> None:
    twitch = [await seed.job("twitch") for _ in range(5)]
    bluesky = [await seed.job("bluesky", status="paused") for _ in range(2)]

    pages = await collect_pages(gateway, "/api/jobs?limit=2")
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    ids = [job["id"] for page in pages for job in page]
    assert ids == [str(j) for j in twitch + bluesky]  # creation order, no duplicates, none missed
    assert set(pages[0][0]) == JOB_FIELDS

    only_twitch = await collect_pages(gateway, "/api/jobs?platform=twitch&limit=3")
    assert [job["id"] for page in only_twitch for job in page] == [str(j) for j in twitch]
    paused = (await gateway.call("GET", "/api/jobs?status=paused")).json()
    assert [job["id"] for job in paused] == [str(j) for j in bluesky]
    one_account = (await gateway.call("GET", f"/api/jobs?account_id={pages[0][1]['account_id']}")).json()
    assert [job["id"] for job in one_account] == [str(twitch[1])]
    blank_filters = (await gateway.call("GET", "/api/jobs?platform=&status=&account_id=")).json()
    assert len(blank_filters) == 7


async def test_last_page_has_no_link(gateway: Gateway, seed: Seeder) -> None:
    await seed.job()
    reply = await gateway.call("GET", "/api/jobs?limit=1")
    assert len(reply.json()) == 1
    assert "Link" not in reply.headers
    assert (await gateway.call("GET", "/api/jobs")).json()[0]["platform"] == "twitch"


async def test_get_job_renders_the_account(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job("bluesky", interval=30)
    job = (await gateway.call("GET", f"/api/jobs/{job_id}", scope="read")).json()
    assert job["id"] == str(job_id)
    assert job["platform"] == "bluesky" and job["interval_minutes"] == 30 and job["status"] == "active"
    assert job["handle"].startswith("user_") and job["external_id"].startswith("ext-")


async def test_put_changes_the_interval_like_the_runbook(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job(interval=15)
    # The runbook's `curl -X PUT -d '{"interval_minutes": 120}'` sends a form Content-Type.
    reply = await gateway.call(
        "PUT", f"/api/jobs/{job_id}", data=b'{"interval_minutes": 120}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200, reply.body
    assert reply.json()["interval_minutes"] == 120
    assert (await gateway.call("GET", f"/api/jobs/{job_id}")).json()["interval_minutes"] == 120


async def test_shorter_interval_pulls_the_next_run_in(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job(interval=10080, next_run_in=timedelta(days=6))
    job = (await gateway.call("PATCH", f"/api/jobs/{job_id}", json={"interval_minutes": 5})).json()
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run <= datetime.now(UTC) + timedelta(minutes=5, seconds=5)


async def test_pause_resume_and_run(gateway: Gateway, seed: Seeder, db: asyncpg.Pool) -> None:
    job_id = await seed.job(next_run_in=timedelta(hours=1))
    paused = await gateway.call("POST", f"/api/jobs/{job_id}/pause")
    assert paused.status == 200 and paused.json()["status"] == "paused"

    refused = await gateway.call("POST", f"/api/jobs/{job_id}/run")
    assert refused.status == 409
    assert refused.content_type == "application/problem+json"

    resumed = (await gateway.call("POST", f"/api/jobs/{job_id}/resume")).json()
    assert resumed["status"] == "active"
    # Back on its own slot within the interval (many jobs resumed at once stay spread).
    interval = timedelta(minutes=resumed["interval_minutes"])
    assert datetime.fromisoformat(resumed["next_run_at"]) <= datetime.now(UTC) + interval

    await db.execute("UPDATE monitoring_jobs SET next_run_at = now() + interval '1 hour' WHERE id = $1", job_id)
    run = await gateway.call("POST", f"/api/jobs/{job_id}/run")
    assert run.status == 200
    assert run.json()["status"] == "active"
    assert datetime.fromisoformat(run.json()["next_run_at"]) <= datetime.now(UTC)


async def test_patch_status_and_delete(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    assert (await gateway.call("PATCH", f"/api/jobs/{job_id}", json={"status": "paused"})).json()["status"] == "paused"
    deleted = await gateway.call("DELETE", f"/api/jobs/{job_id}")
    assert deleted.status == 204
    assert (await gateway.call("GET", f"/api/jobs/{job_id}")).status == 404
    assert (await gateway.call("DELETE", f"/api/jobs/{job_id}")).status == 404


async def test_create_refuses_platforms_it_cannot_track(gateway: Gateway) -> None:
    platforms = (await gateway.call("GET", "/api/platforms")).json()
    unconfigured = [p["platform"] for p in platforms if not p["configured"]]
    assert "twitch" in unconfigured  # the test settings carry no Twitch credentials
    for platform in unconfigured:
        reply = await gateway.call("POST", "/api/jobs", json={"platform": platform, "account": "someone"})
        assert reply.status == 422, (platform, reply.body)
        problem = reply.json()
        assert problem["errors"][0]["name"] == "platform"
        assert "not configured" in problem["detail"] or "not implemented" in problem["detail"]
    assert (await gateway.call("GET", "/api/jobs")).json() == []


async def test_create_validates_the_body(gateway: Gateway) -> None:
    missing = await gateway.call("POST", "/api/jobs", json={"platform": "twitch"})
    assert missing.status == 422
    assert [e["name"] for e in missing.json()["errors"]] == ["account"]
    unknown = await gateway.call("POST", "/api/jobs", json={"platform": "myspace", "account": "tom"})
    assert unknown.status == 422
    assert [e["name"] for e in unknown.json()["errors"]] == ["platform"]
    not_an_object = await gateway.call("POST", "/api/jobs", json=["twitch"])
    assert not_an_object.status == 422


async def test_executions_newest_first_filtered_and_paginated(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    other_job = await seed.job()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    statuses = ["success", "rate_limited", "success", "rate_limited", "failed"]
    for minutes, status in enumerate(statuses):
        await seed.execution(job_id, base + timedelta(minutes=minutes), status)
    await seed.execution(other_job, base, "rate_limited")

    pages = await collect_pages(gateway, f"/api/jobs/{job_id}/executions?limit=2")
    runs = [run for page in pages for run in page]
    assert [run["status"] for run in runs] == list(reversed(statuses))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert set(runs[0]) == {
        "id", "job_id", "scheduled_for", "started_at", "finished_at", "status", "error", "api_calls",
        "points_written", "collector_instance",
    }
    limited = (await gateway.call("GET", f"/api/jobs/{job_id}/executions?status=rate_limited")).json()
    assert [run["scheduled_for"] for run in limited] == [runs[1]["scheduled_for"], runs[3]["scheduled_for"]]
    assert all(run["job_id"] == str(job_id) for run in limited)


async def test_executions_of_a_job_without_runs_is_an_empty_array(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    reply = await gateway.call("GET", f"/api/jobs/{job_id}/executions")
    assert reply.status == 200 and reply.json() == []


async def test_a_live_interval_is_set_changed_and_removed_on_twitch_only(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool
) -> None:
    twitch = await seed.job(platform="twitch", interval=60)
    reply = await gateway.call("PATCH", f"/api/jobs/{twitch}", json={"live_interval_minutes": 5})
    assert reply.status == 200, reply.body
    assert reply.json()["live_interval_minutes"] == 5 and reply.json()["is_live"] is False
    # Not shorter than the interval: refused, and nothing changed.
    refused = await gateway.call("PATCH", f"/api/jobs/{twitch}", json={"live_interval_minutes": 60})
    assert refused.status == 422 and refused.content_type == "application/problem+json"
    assert "shorter than interval_minutes" in refused.body.decode()
    refused = await gateway.call("PATCH", f"/api/jobs/{twitch}", json={"interval_minutes": 3})
    assert refused.status == 422
    assert await db.fetchval("SELECT (interval_minutes, live_interval_minutes)::text FROM monitoring_jobs "
                             "WHERE id = $1", twitch) == "(60,5)"
    removed = await gateway.call("PATCH", f"/api/jobs/{twitch}", json={"live_interval_minutes": None})
    assert removed.status == 200 and removed.json()["live_interval_minutes"] is None

    bluesky = await seed.job(platform="bluesky")
    refused = await gateway.call("PATCH", f"/api/jobs/{bluesky}", json={"live_interval_minutes": 5})
    assert refused.status == 422 and "twitch only" in refused.body.decode()
    refused = await gateway.call("POST", "/api/jobs", json={"platform": "bluesky", "account": "alice.bsky.social",
                                                             "live_interval_minutes": 5})
    assert refused.status == 422 and "twitch only" in refused.body.decode()
