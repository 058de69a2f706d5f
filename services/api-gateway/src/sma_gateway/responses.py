"""Responses from schema models: one JSON object, or a list as a top-level JSON array (what the
runbook's `jq '.[]'` expects) or as CSV when the client asks for it (`sma_gateway.csv_output`),
with optional pagination headers either way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web
from pydantic import BaseModel, SerializeAsAny, TypeAdapter

from sma_gateway.csv_output import CSV_MEDIA_TYPE, render_csv, requested_format
from sma_gateway.schemas import OutputFormat

_MODELS: TypeAdapter[Sequence[BaseModel]] = TypeAdapter(list[SerializeAsAny[BaseModel]])
_MODEL: TypeAdapter[BaseModel] = TypeAdapter(SerializeAsAny[BaseModel])


def json_bytes_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


_CONTENT_TYPES: dict[OutputFormat, str] = {"json": "application/json", "csv": f"{CSV_MEDIA_TYPE}; charset=utf-8"}


def rendered_response(body: bytes, output: OutputFormat, headers: Mapping[str, str] | None = None) -> web.Response:
    """A body already rendered in `output` (e.g. from the cache), with its content type."""
    return web.Response(body=body, headers={"Content-Type": _CONTENT_TYPES[output], **(headers or {})})


CACHE_HEADER = "X-Cache"
CACHE_HEADER_DOC = {CACHE_HEADER: "where the answer came from: `local` (this gateway's memory), `hit` (Redis), "
                    "`miss` (Postgres, now cached) or `bypass` (Postgres, Redis unavailable)"}


def cached_response(
    body: bytes, output: OutputFormat, outcome: str, etag: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A body read through the cache: `X-Cache` says from where, `ETag` is the cached value's."""
    return rendered_response(body, output, {CACHE_HEADER: outcome, "ETag": etag, **(headers or {})})


def model_response(model: BaseModel, status: int = 200) -> web.Response:
    return json_bytes_response(_MODEL.dump_json(model), status)


def model_response_bytes(model: BaseModel) -> bytes:
    return _MODEL.dump_json(model)


def render_rows(row_type: type[BaseModel], rows: Sequence[BaseModel], output: OutputFormat) -> bytes:
    """A list body: a JSON array, or CSV with a header row of `row_type`'s fields."""
    return render_csv(row_type, rows) if output == "csv" else _MODELS.dump_json(rows)


def list_response(
    request: web.Request, row_type: type[BaseModel], rows: Sequence[BaseModel], next_link: str | None = None
) -> web.Response:
    """A list in the format the request asks for (`?format=`, `Accept`); `Link` for the next page."""
    output = requested_format(request)
    headers = {"Link": next_link} if next_link else None
    return rendered_response(render_rows(row_type, rows, output), output, headers)
