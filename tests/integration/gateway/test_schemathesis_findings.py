"""What the schemathesis suite found, pinned as plain tests: client mistakes are 4xx problems,
never 500s, and the gateway accepts exactly what its OpenAPI document says."""

from __future__ import annotations

import re

import pytest

from sma_gateway.schemas import QUERY_DATETIME_PATTERN
from tests.integration.gateway.harness import Gateway, Seeder

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/keys", {"name": "ci\u0000bot", "scopes": ["read"]}, "name"),  # was a 500 from Postgres
    ("/api/jobs", {"platform": "twitch", "account": "a\u0000b"}, "account"),
])
async def test_nul_in_body_text_is_a_422_not_a_500(gateway: Gateway, path: str, body: dict[str, object],
                                                   field: str) -> None:
    reply = await gateway.call("POST", path, scope="admin", json=body)
    assert (reply.status, reply.content_type) == (422, PROBLEM), reply.body
    assert reply.json()["errors"][0]["name"] == field


async def test_bulk_route_paths_are_never_job_ids(gateway: Gateway) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        reply = await gateway.call(method, "/api/jobs/resume", json={"status": "paused"})
        assert (reply.status, reply.content_type) == (405, PROBLEM), (method, reply.body)
        assert reply.headers["Allow"] == "POST"


async def test_query_instants_are_validated_as_the_document_says(gateway: Gateway, seed: Seeder) -> None:
    """`from`/`to` follow QUERY_DATETIME_PATTERN: pydantic alone would read `from=5` as a Unix time."""
    account_id = await seed.account()
    path = f"/api/accounts/{account_id}/metrics?metric=followers"
    for value in ("5", "1700000000", "yesterday", "2026-01-01T10:00:00%0A"):
        reply = await gateway.call("GET", f"{path}&from={value}", scope="read")
        assert reply.status == 422, value
        assert reply.json()["errors"][0]["name"] == "from"
    for value in ("2026-01-01", "2026-01-01T10:00:00", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00%2B02:00",
                  "2026-01-01T10:00:00 02:00", ""):
        assert re.fullmatch(QUERY_DATETIME_PATTERN, value.replace("%2B", "+").replace(" 02", "+02")) or not value
        reply = await gateway.call("GET", f"{path}&from={value}", scope="read")
        assert reply.status == 200, (value, reply.body)
    unknown = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=nope", scope="read")
    assert unknown.status == 422
