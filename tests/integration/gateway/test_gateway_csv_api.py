"""CSV for every list and series: `?format=csv` or `Accept: text/csv`, a header row, the same rows
and pagination as JSON, formulas in other people's text defused, unknown formats refused."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.gateway.harness import Gateway, Reply, Seeder

NOW = datetime.now(UTC)
HOUR = NOW.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
CSV_TYPE = "text/csv; charset=utf-8"


def table(reply: Reply) -> list[dict[str, str]]:
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == CSV_TYPE
    return list(csv.DictReader(io.StringIO(reply.body.decode())))


def header(reply: Reply) -> list[str]:
    return reply.body.decode().splitlines()[0].split(",")


async def test_jobs_as_csv_page_like_json(gateway: Gateway, seed: Seeder) -> None:
    ids = {str(await seed.job("twitch")) for _ in range(3)}
    first = await gateway.call("GET", "/api/jobs?limit=2&format=csv", scope="read")
    rows = table(first)
    assert len(rows) == 2 and header(first)[:3] == ["id", "account_id", "platform"]
    link = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers["Link"])
    assert link and "format=csv" in link.group(1)
    rest = await gateway.call("GET", link.group(1), scope="read")
    assert "Link" not in rest.headers
    assert {row["id"] for row in rows + table(rest)} == ids
    as_json = (await gateway.call("GET", "/api/jobs?limit=2", scope="read")).json()
    assert [row["id"] for row in rows] == [job["id"] for job in as_json]
    assert rows[0]["status"] == "active" and rows[0]["last_run_at"] == ""  # null is an empty cell


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/csv", CSV_TYPE),
    ("text/csv, application/json;q=0.5", CSV_TYPE),
    ("application/json, text/csv;q=0.9", "application/json"),
    ("text/*", CSV_TYPE),
    ("*/*", "application/json"),
    ("text/csv;q=0.5, */*;q=0.5", "application/json"),
])
async def test_accept_header_picks_the_format(gateway: Gateway, seed: Seeder, accept: str, expected: str) -> None:
    await seed.job("twitch")
    reply = await gateway.call("GET", "/api/jobs", headers={"Accept": accept}, scope="read")
    assert reply.status == 200 and reply.headers["Content-Type"] == expected


async def test_format_query_wins_over_accept(gateway: Gateway, seed: Seeder) -> None:
    await seed.job("twitch")
    reply = await gateway.call("GET", "/api/jobs?format=json", headers={"Accept": "text/csv"}, scope="read")
    assert reply.content_type == "application/json"


@pytest.mark.parametrize("path", [
    "/api/jobs", "/api/accounts", "/api/platforms", "/api/leaderboard?metric=followers",
])
async def test_unknown_format_is_422(gateway: Gateway, path: str) -> None:
    separator = "&" if "?" in path else "?"
    reply = await gateway.call("GET", f"{path}{separator}format=xlsx", scope="read")
    assert reply.status == 422, reply.body
    assert reply.json()["errors"][0]["name"] == "format"


async def test_series_and_account_lists_as_csv(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job("twitch")
    account_id = (await gateway.call("GET", f"/api/jobs/{job_id}", scope="read")).json()["account_id"]
    await seed.points(account_id, "followers", [
        (HOUR + timedelta(minutes=5), 10.0), (HOUR + timedelta(minutes=35), 12.0),
        (HOUR + timedelta(hours=1, minutes=5), 15.0),
    ])
    raw = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&format=csv", scope="read")
    assert header(raw) == ["ts", "value", "rounded"]
    assert [row["value"] for row in table(raw)] == ["10.0", "12.0", "15.0"]
    assert datetime.fromisoformat(table(raw)[0]["ts"]) == HOUR + timedelta(minutes=5)

    path = f"/api/accounts/{account_id}/metrics?metric=followers&resolution=hour"
    hourly = await gateway.call("GET", path, headers={"Accept": "text/csv"}, scope="read")
    assert header(hourly) == ["ts", "value", "rounded", "min", "max", "first", "last", "count"]
    assert [(r["first"], r["last"], r["count"]) for r in table(hourly)] == [
        ("10.0", "12.0", "2"), ("15.0", "15.0", "1"),
    ]
    # The JSON entry of the same query is separate from the CSV one.
    as_json = await gateway.call("GET", path, scope="read")
    assert as_json.content_type == "application/json" and len(as_json.json()) == 2

    paged = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&limit=2&format=csv",
                               scope="read")
    assert len(table(paged)) == 2 and 'rel="next"' in paged.headers["Link"]

    accounts = table(await gateway.call("GET", "/api/accounts?format=csv", scope="read"))
    assert [int(row["id"]) for row in accounts] == [account_id]

    await seed.execution(job_id, NOW - timedelta(minutes=3), status="rate_limited")
    executions = table(await gateway.call("GET", f"/api/jobs/{job_id}/executions?format=csv", scope="read"))
    assert [(row["status"], row["error"]) for row in executions] == [("rate_limited", "rate_limited")]


async def test_empty_lists_still_have_a_header(gateway: Gateway) -> None:
    reply = await gateway.call("GET", "/api/accounts?format=csv", scope="read")
    assert reply.status == 200 and reply.body.decode().splitlines() == [
        "id,platform,external_id,handle,display_name,job_id,created_at,updated_at"
    ]


async def test_formulas_in_names_are_defused(gateway: Gateway, seed: Seeder) -> None:
    for handle, display in (("=1+2", "+cmd|' /C calc'!A0"), ("-minus", "@at"), ("plain", "=x")):
        account_id = await seed.account("twitch", handle=handle)
        await seed.db.execute("UPDATE accounts SET display_name = $1 WHERE id = $2", display, account_id)
    rows = table(await gateway.call("GET", "/api/accounts?format=csv", scope="read"))
    assert [(r["handle"], r["display_name"]) for r in rows] == [
        ("'=1+2", "'+cmd|' /C calc'!A0"), ("'-minus", "'@at"), ("plain", "'=x"),
    ]


async def test_nested_values_are_json_cells(gateway: Gateway) -> None:
    rows = table(await gateway.call("GET", "/api/platforms?format=csv", scope="read"))
    assert {row["platform"] for row in rows} >= {"twitch", "youtube"}
    budget = rows[0]["budget"]
    assert budget.startswith("{") and '"window_seconds"' in budget
