"""Turning a raw request into typed input: JSON bodies (size-bounded), query strings and path ids,
raising problems (400, 404, 413, 422) for anything a client got wrong."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from sma_gateway.problem import ProblemError, from_validation_error, not_found

M = TypeVar("M", bound=BaseModel)
_MAX_BIGINT = 2**63 - 1


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The body, refusing early (by Content-Length) or while reading once past `max_bytes`."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


def _too_large(max_bytes: int) -> ProblemError:
    return ProblemError(413, f"The request body exceeds the limit of {max_bytes} bytes.")


def parse_json(raw: bytes) -> object:
    """JSON whatever the Content-Type (the runbook's `curl -d` sends form-encoded); empty is `{}`."""
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(400, f"The request body is not valid JSON: {exc}", kind="malformed-json") from exc


async def parse_body(request: web.Request, model: type[M], max_bytes: int) -> M:
    data = parse_json(await read_body(request, max_bytes))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, "body") from exc


# Parsed query models by (model, raw query string): dashboards repeat the same queries, and a
# parse costs more than a cached read. Query models are frozen and hold no clock-dependent
# defaults, so one parse serves every identical query; invalid ones are never stored.
_PARSED: dict[tuple[type[BaseModel], str], BaseModel] = {}
_PARSED_MAX = 4096


def parse_query(request: web.Request, model: type[M]) -> M:
    """Query parameters as `model`; an empty value (`?platform=`) means the parameter is absent."""
    key = (model, request.query_string)
    parsed = _PARSED.get(key)
    if parsed is not None:
        return parsed  # type: ignore[return-value]  # stored under its own model
    try:
        fresh = model.model_validate({name: value for name, value in request.query.items() if value})
    except ValidationError as exc:
        raise from_validation_error(exc, "query") from exc
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = fresh
    return fresh


def parse_job_id(request: web.Request) -> UUID:
    """A job id from the path; anything that is not a UUID names no job (404, not 400 or 500)."""
    raw = request.match_info["id"]
    try:
        return UUID(raw)
    except ValueError:
        raise not_found(f"No job with id {raw!r}.") from None


def parse_numeric_id(request: web.Request, what: str) -> int:
    """A bigint id from the path; anything else names no such thing (404, not 400 or 500)."""
    raw = request.match_info["id"]
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= _MAX_BIGINT:
        return int(raw)
    raise not_found(f"No {what} with id {raw!r}.")


def parse_account_id(request: web.Request) -> int:
    return parse_numeric_id(request, "account")
