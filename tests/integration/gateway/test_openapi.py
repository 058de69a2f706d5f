"""The OpenAPI document and the docs page, as a running gateway serves them: a valid OpenAPI 3.1
document describing exactly the registered routes, errors as problem+json, and a docs page whose
assets all come from the gateway itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from sma_gateway.auth import PROTECTED_PREFIX, required_scope
from sma_gateway.openapi import operation
from sma_gateway.openapi.docs import CONTENT_SECURITY_POLICY
from sma_gateway.openapi.spec import build_spec, described_routes
from sma_gateway.schemas import QUERY_DATETIME_PATTERN
from tests.integration.gateway.harness import Gateway

# The docs page and its files are for people, not API clients.
UNDESCRIBED = re.compile(r"^/docs(/|$)")


async def spec_of(gateway: Gateway) -> dict[str, Any]:
    reply = await gateway.call("GET", "/openapi.json", scope=None)
    assert reply.status == 200, reply.body
    assert reply.content_type == "application/json"
    document = reply.json()
    assert isinstance(document, dict)
    return document


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD" or UNDESCRIBED.match(resource.canonical):
            continue
        routes.add((resource.canonical, route.method))
    return routes


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


async def test_document_is_valid_openapi_3_1_and_served_without_a_key(gateway: Gateway) -> None:
    document = await spec_of(gateway)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the failing part of the document
    assert await spec_of(gateway) == document  # built once, then the same bytes


async def test_every_registered_route_is_described_and_nothing_else(gateway: Gateway) -> None:
    document = await spec_of(gateway)
    registered = registered_routes(gateway.service.app)
    described = described_routes(document)
    assert registered - described == set(), "routes without @operation metadata"
    assert described - registered == set(), "described routes the gateway does not serve"
    assert any(path.startswith("/api/") for path, _ in described)


async def test_api_operations_name_their_scope_and_every_error_is_a_problem(gateway: Gateway) -> None:
    document = await spec_of(gateway)
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for path, method, op in operations(document):
        if path.startswith(PROTECTED_PREFIX):
            scope = required_scope(method.upper(), path)
            assert op["security"] == [{"apiKey": [scope]}], (path, method)
            assert {"401", "403", "429", "500"} <= set(op["responses"]), (path, method)
        else:
            assert op["tags"] == ["system"] and op["security"] == [], path
        for status, response in op["responses"].items():
            if int(status) >= 400 and path.startswith(PROTECTED_PREFIX):
                content = resolve(document, response)["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["required"])


async def test_bodies_parameters_and_lists_follow_the_models(gateway: Gateway) -> None:
    document = await spec_of(gateway)
    paths = document["paths"]
    create = paths["/api/jobs"]["post"]
    body = resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    assert body["additionalProperties"] is False  # extra="forbid": unknown fields are a 422
    assert {"platform", "account"} <= set(body["required"])
    assert {"201", "200", "400", "413", "422"} <= set(create["responses"])
    created, existing = create["responses"]["201"], create["responses"]["200"]
    assert (created["description"], existing["description"]) == ("Created", "OK")
    assert "Location" in created["headers"] and "Location" not in existing["headers"]
    for path, method, op in operations(document):
        if "requestBody" in op:
            schema = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
            assert schema["additionalProperties"] is False, (path, method)
    listing = paths["/api/jobs"]["get"]
    ok = listing["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/JobOut"}
    }
    assert "text/csv" in ok["content"] and "Link" in ok["headers"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["platform"]["schema"] == {"$ref": "#/components/schemas/Platform"}
    assert params["status"]["schema"]["enum"] == ["active", "paused"]
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1}
    job_id = {p["name"]: p for p in paths["/api/jobs/{id}"]["get"]["parameters"]}["id"]
    assert job_id["in"] == "path" and job_id["required"] is True
    assert job_id["schema"] == {"type": "string", "format": "uuid"}
    series = {p["name"]: p for p in paths["/api/accounts/{id}/metrics"]["get"]["parameters"]}
    assert series["from"]["schema"]["pattern"] == QUERY_DATETIME_PATTERN
    assert series["from"]["allowEmptyValue"] is True  # `?from=` means "not given"
    assert series["metric"]["required"] is True and "followers" in series["metric"]["schema"]["enum"]
    for path, method, op in operations(document):
        conditional = method == "get" and path.startswith(PROTECTED_PREFIX)
        assert ("304" in op["responses"]) == conditional, (path, method)  # ETag / If-None-Match on API reads
        if conditional:
            assert "ETag" in op["responses"]["200"]["headers"]
            assert "If-None-Match" in {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert "204" in paths["/api/jobs/{id}"]["delete"]["responses"]
    assert "content" not in paths["/api/jobs/{id}"]["delete"]["responses"]["204"]


def test_a_route_without_metadata_is_left_out_and_named() -> None:
    async def undescribed(_: web.Request) -> web.Response:
        return web.Response()

    @operation("Described", response=None, status=204)
    async def described(_: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/api/undescribed", undescribed)
    app.router.add_post("/api/described/{id}", described)
    document = build_spec(app.router, title="t", version="1")
    assert described_routes(document) == {("/api/described/{id}", "POST")}
    assert registered_routes(app) - described_routes(document) == {("/api/undescribed", "GET")}
    validate(document)


async def test_docs_page_loads_its_assets_from_the_gateway_only(gateway: Gateway) -> None:
    page = await gateway.call("GET", "/docs", scope=None)
    assert page.status == 200 and page.content_type == "text/html"
    html = page.body.decode()
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert not re.search(r"(https?:)?//", html), "the page must not reference another origin"
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to allow
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(referenced) == 6
    expected_types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for ref in referenced:
        asset = await gateway.call("GET", "/" + ref, scope=None)
        assert asset.status == 200, ref
        assert asset.content_type == expected_types[ref[ref.rfind("."):]], ref
        assert "max-age" in asset.headers["Cache-Control"]
        assert asset.body
        again = await gateway.call("GET", "/" + ref, scope=None, headers={"If-None-Match": asset.headers["ETag"]})
        assert again.status == 304 and again.body == b""
    spec_url = re.search(r'data-spec-url="([^"]+)"', html)
    assert spec_url is not None and (await gateway.call("GET", "/" + spec_url.group(1), scope=None)).status == 200


@pytest.mark.parametrize("name", ["index.html", "swagger-initializer.js", "..%2Fdocs.py", "nope.js"])
async def test_only_the_page_s_assets_are_served(gateway: Gateway, name: str) -> None:
    reply = await gateway.call("GET", f"/docs/assets/{name}", scope=None)
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"

