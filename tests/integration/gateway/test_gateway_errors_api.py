import uuid
from collections.abc import AsyncIterator

from sma_gateway.pagination import encode_cursor
from tests.integration.gateway.harness import Gateway, Seeder

PROBLEM = "application/problem+json"


async def test_unknown_route_is_404_problem(gateway: Gateway) -> None:
    before = gateway.requests_counted("unmatched", "GET", 404)
    reply = await gateway.call("GET", "/api/nothing-here")
    assert reply.status == 404
    assert reply.content_type == PROBLEM
    assert reply.json()["instance"] == "/api/nothing-here"
    assert gateway.requests_counted("unmatched", "GET", 404) == before + 1  # one label for every unknown path


async def test_wrong_method_is_405_with_allow(gateway: Gateway) -> None:
    before = gateway.requests_counted("unmatched", "DELETE", 405)
    reply = await gateway.call("DELETE", "/api/jobs")
    assert reply.status == 405
    assert gateway.requests_counted("unmatched", "DELETE", 405) == before + 1
    assert reply.content_type == PROBLEM
    assert "POST" in reply.headers["Allow"]


JOB_ROUTES = [
    ("GET", "", None), ("PUT", "", {"interval_minutes": 5}), ("PATCH", "", {"status": "paused"}),
    ("DELETE", "", None), ("POST", "/pause", None), ("POST", "/resume", None), ("POST", "/run", None),
    ("GET", "/executions", None),
]


async def test_unknown_or_invalid_job_id_is_404(gateway: Gateway) -> None:
    for job_id in (str(uuid.uuid4()), "not-a-uuid", "1;%20DROP%20TABLE%20monitoring_jobs"):
        for method, suffix, body in JOB_ROUTES:
            reply = await gateway.call(method, f"/api/jobs/{job_id}{suffix}", json=body)
            assert reply.status == 404, (method, job_id, suffix, reply.body)
            assert reply.content_type == PROBLEM


async def test_unknown_or_invalid_account_id_is_404(gateway: Gateway) -> None:
    for account_id in ("999999", "abc", "-1", "0", "99999999999999999999"):
        for suffix in ("", "/metrics?metric=followers"):
            reply = await gateway.call("GET", f"/api/accounts/{account_id}{suffix}")
            assert reply.status == 404, (account_id, suffix, reply.body)
            assert reply.content_type == PROBLEM


async def test_out_of_range_interval_is_422_naming_the_field(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    for method, path, body in (
        ("PUT", f"/api/jobs/{job_id}", {"interval_minutes": 0}),
        ("PATCH", f"/api/jobs/{job_id}", {"interval_minutes": 10081}),
        ("POST", "/api/jobs", {"platform": "twitch", "account": "someone", "interval_minutes": 99999}),
    ):
        reply = await gateway.call(method, path, json=body)
        assert reply.status == 422, (method, reply.body)
        assert reply.content_type == PROBLEM
        problem = reply.json()
        assert problem["errors"][0]["name"] == "interval_minutes"
        assert problem["errors"][0]["location"] == "body"
        assert "interval_minutes" in problem["detail"]


async def test_unknown_fields_and_empty_changes_are_422(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    unknown = await gateway.call("PUT", f"/api/jobs/{job_id}", json={"interval": 5})
    assert unknown.status == 422
    assert [e["name"] for e in unknown.json()["errors"]] == ["interval"]
    empty = await gateway.call("PATCH", f"/api/jobs/{job_id}", json={})
    assert empty.status == 422


async def test_malformed_json_is_400(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    for path, method in ((f"/api/jobs/{job_id}", "PUT"), ("/api/jobs", "POST")):
        reply = await gateway.call(
            method, path, data=b'{"interval_minutes": ', headers={"Content-Type": "application/json"}
        )
        assert reply.status == 400
        assert reply.content_type == PROBLEM


async def test_oversized_body_is_413(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    huge = b'{"interval_minutes": 5, "pad": "' + b"x" * (200 * 1024) + b'"}'
    reply = await gateway.call("PUT", f"/api/jobs/{job_id}", data=huge)
    assert reply.status == 413
    assert reply.content_type == PROBLEM


async def test_invalid_query_values_are_422(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    for path, name in (
        (f"/api/jobs/{job_id}/executions?status=exploded", "status"),
        ("/api/jobs?status=sleeping", "status"),
        ("/api/jobs?platform=myspace", "platform"),
        ("/api/jobs?limit=0", "limit"),
        ("/api/jobs?limit=100000", "limit"),
        ("/api/jobs?cursor=garbage", "cursor"),
        ("/api/accounts?limit=abc", "limit"),
    ):
        reply = await gateway.call("GET", path)
        assert reply.status == 422, path
        error = reply.json()["errors"][0]
        assert (error["location"], error["name"]) == ("query", name)


async def test_problems_carry_the_request_id(gateway: Gateway) -> None:
    reply = await gateway.call("GET", "/api/jobs/nope", headers={"X-Request-ID": "req-123"})
    assert reply.json()["request_id"] == "req-123"
    assert reply.headers["X-Request-ID"] == "req-123"


async def test_edge_inputs_are_client_errors_not_500s(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()
    account_id = await seed.account()
    naive_cursor = encode_cursor(["2026-01-01T00:00:00", str(uuid.uuid4())])
    for path in (
        f"/api/jobs?cursor={naive_cursor}",
        f"/api/jobs/{job_id}/executions?cursor={encode_cursor(['2026-01-01T00:00:00'])}",
        f"/api/accounts?cursor={encode_cursor([2**64 - 1])}",
    ):
        assert (await gateway.call("GET", path)).status in (200, 422), path
    offset_year_one = encode_cursor(["0001-01-01T00:00:00+05:00", str(uuid.uuid4())])
    for path in (f"/api/jobs?cursor={offset_year_one}",
                 f"/api/jobs/{job_id}/executions?cursor={encode_cursor(['0001-01-01T00:00:00+05:00'])}"):
        reply = await gateway.call("GET", path)
        assert reply.status == 422 and reply.json()["errors"][0]["name"] == "cursor", path
    for query in ("to=0001-01-01T00:00:00Z", "from=9999-12-31T23:59:59Z", "limit=99999999999999999999",
                  "from=0001-01-01T00:00:00%2B05:00", "to=9999-12-31T23:59:59-05:00"):
        reply = await gateway.call("GET", f"/api/accounts/{account_id}/metrics?metric=followers&{query}")
        assert reply.status == 422, (query, reply.body)


async def test_oversized_chunked_body_is_413(gateway: Gateway, seed: Seeder) -> None:
    job_id = await seed.job()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"interval_minutes": 5, "pad": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    reply = await gateway.call("PUT", f"/api/jobs/{job_id}", data=chunks())
    assert reply.status == 413
