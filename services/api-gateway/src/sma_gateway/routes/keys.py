"""/api/keys (admin scope): create a key (its token shown once), list keys, revoke one. A
revocation is published to every gateway, which drops its verified copy at once."""

from __future__ import annotations

from aiohttp import web

from sma_common.api_keys import create_key, list_keys, revoke_key
from sma_gateway import state
from sma_gateway.openapi import BigintId, operation
from sma_gateway.problem import not_found
from sma_gateway.responses import list_response, model_response
from sma_gateway.schemas import KeyCreate, KeyCreated, KeyOut
from sma_gateway.validation import parse_body, parse_numeric_id


@operation("List API keys (never their secrets)", response=list[KeyOut], csv=True)
async def list_api_keys(request: web.Request) -> web.Response:
    rows = await list_keys(request.app[state.DATABASE].pool)
    return list_response(request, KeyOut, [KeyOut.model_validate(dict(row)) for row in rows])


@operation(
    "Create an API key: the token is in this response only",
    body=KeyCreate, response=KeyCreated, status=201, headers={"Location": "the new key's path"},
)
async def create_api_key(request: web.Request) -> web.Response:
    body = await parse_body(request, KeyCreate, request.app[state.SETTINGS].max_request_body_bytes)
    async with request.app[state.DATABASE].pool.acquire() as conn:
        row, token = await create_key(conn, body.name, list(body.scopes))
    created = KeyCreated.model_validate({**dict(row), "last_used_at": None, "revoked_at": None, "token": token})
    response = model_response(created, status=201)
    response.headers["Location"] = f"/api/keys/{created.id}"
    response.headers["Cache-Control"] = "no-store"  # the token must not linger in any cache
    return response


@operation("Revoke an API key, on every gateway at once", path={"id": BigintId}, status=204)
async def revoke_api_key(request: web.Request) -> web.Response:
    key_id = parse_numeric_id(request, "key")
    prefix = await revoke_key(request.app[state.DATABASE].pool, key_id=key_id)
    if prefix is None:
        raise not_found(f"No active API key with id {key_id}.")
    await request.app[state.KEY_EVENTS].revoked(prefix)
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/keys", list_api_keys),
        web.post("/api/keys", create_api_key),
        web.delete("/api/keys/{id}", revoke_api_key),
    ]
