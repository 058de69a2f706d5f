"""JSON responses from schema models: one object, or a top-level array (what the runbook's
`jq '.[]'` expects), with optional pagination headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web
from pydantic import BaseModel, SerializeAsAny, TypeAdapter

_MODELS: TypeAdapter[Sequence[BaseModel]] = TypeAdapter(list[SerializeAsAny[BaseModel]])
_MODEL: TypeAdapter[BaseModel] = TypeAdapter(SerializeAsAny[BaseModel])


def json_bytes_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def model_response(model: BaseModel, status: int = 200) -> web.Response:
    return json_bytes_response(_MODEL.dump_json(model), status)


def list_response(models: Sequence[BaseModel], next_link: str | None = None) -> web.Response:
    headers = {"Link": next_link} if next_link else None
    return json_bytes_response(_MODELS.dump_json(models), headers=headers)


def dump_models(models: Sequence[BaseModel]) -> bytes:
    return _MODELS.dump_json(models)
