from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field, ValidationError
from structlog.testing import capture_logs

from sma_common.http_server import request_metrics_middleware
from sma_common.metrics import HttpMetrics
from sma_gateway.http_policies import ResponsePolicies
from sma_gateway.problem import (
    PROBLEM_CONTENT_TYPE,
    FieldError,
    ProblemError,
    from_validation_error,
    invalid,
)


class Body(BaseModel):
    interval_minutes: int = Field(ge=1, le=10080)


def test_validation_errors_name_location_and_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"interval_minutes": 0})
    problem = from_validation_error(caught.value, "body")
    assert problem.status == 422
    assert problem.type == "urn:sma:problem:validation-error"
    assert [e.as_json() for e in problem.errors] == [
        {"location": "body", "name": "interval_minutes", "detail": "Input should be greater than or equal to 1"}
    ]
    assert "interval_minutes" in problem.detail


def test_a_whole_body_error_is_named_after_its_location() -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate([1])
    assert from_validation_error(caught.value, "body").errors[0].name == "body"


async def _boom(_: web.Request) -> web.Response:
    raise RuntimeError("secret internals: password=hunter2")


async def _problem(_: web.Request) -> web.Response:
    raise invalid([FieldError("query", "metric", "unknown metric")])


async def _conflict(_: web.Request) -> web.Response:
    raise ProblemError(409, "paused", kind="job-paused", headers={"Retry-After": "3"})


async def _db_down(_: web.Request) -> web.Response:
    raise asyncpg.CannotConnectNowError("the database system is starting up")


async def _big(request: web.Request) -> web.Response:
    await request.read()
    return web.Response()


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    metrics = HttpMetrics(CollectorRegistry())
    app = web.Application(
        middlewares=[request_metrics_middleware(metrics), ResponsePolicies(()).middleware()], client_max_size=1024
    )
    app.router.add_get("/boom", _boom)
    app.router.add_get("/problem", _problem)
    app.router.add_post("/conflict", _conflict)
    app.router.add_get("/db", _db_down)
    app.router.add_post("/big", _big)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _problem_body(resp: object) -> dict[str, object]:
    assert resp.content_type == PROBLEM_CONTENT_TYPE  # type: ignore[attr-defined]
    return orjson.loads(await resp.read())  # type: ignore[attr-defined,no-any-return]


async def test_unexpected_errors_are_logged_and_a_generic_500(
    client: TestClient[web.Request, web.Application],
) -> None:
    with capture_logs() as logs:
        resp = await client.get("/boom", headers={"X-Request-ID": "req-7"})
    body = await _problem_body(resp)
    assert resp.status == 500
    assert body["title"] == "Internal Server Error" and body["instance"] == "/boom"
    assert body["request_id"] == "req-7"
    assert "hunter2" not in str(body) and "Traceback" not in str(body)
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == ["request.failed"]


async def test_problem_errors_render_with_their_fields(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/problem")
    body = await _problem_body(resp)
    assert resp.status == 422
    assert body["errors"] == [{"location": "query", "name": "metric", "detail": "unknown metric"}]
    assert set(body) >= {"type", "title", "status", "detail", "instance"}


async def test_problem_headers_are_kept(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.post("/conflict")
    body = await _problem_body(resp)
    assert (resp.status, resp.headers["Retry-After"], body["type"]) == (409, "3", "urn:sma:problem:job-paused")


async def test_aiohttp_errors_become_problems(client: TestClient[web.Request, web.Application]) -> None:
    missing = await client.get("/nowhere")
    assert missing.status == 404 and (await _problem_body(missing))["instance"] == "/nowhere"
    wrong_method = await client.delete("/boom")
    assert wrong_method.status == 405 and "GET" in wrong_method.headers["Allow"]
    await _problem_body(wrong_method)
    too_big = await client.post("/big", data=b"x" * 4096)
    assert too_big.status == 413
    await _problem_body(too_big)


async def test_unavailable_database_is_503(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/db")
    assert resp.status == 503 and "Retry-After" in resp.headers
    await _problem_body(resp)
