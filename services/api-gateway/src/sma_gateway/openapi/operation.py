"""Per-operation API metadata, attached to the handler it describes with `@operation(...)`.

The handler stays the single place that says what an operation takes and returns: the same
pydantic models it parses and renders are named here, and the OpenAPI builder reads them from
the router, so a route without metadata is visible (and a test fails) instead of silently missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

_ATTRIBUTE = "__sma_operation__"

# A Postgres bigint id in a path, as `validation.parse_numeric_id` accepts it (anything else: 404).
BigintId = Annotated[int, Field(ge=1, le=2**63 - 1)]


@dataclass(frozen=True, slots=True)
class Operation:
    """What one handler accepts and answers. `response` is a model, `list[Model]` or any type a
    pydantic `TypeAdapter` takes; None means an empty success (e.g. 204)."""

    summary: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    path: Mapping[str, object] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: object = None
    status: int = 200
    # Other success statuses with the same body (an idempotent create answers 200 the second time).
    also: tuple[int, ...] = ()
    errors: tuple[int, ...] = ()
    # A list whose next page is announced in an RFC 8288 `Link` header.
    paginated: bool = False
    csv: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


def operation(
    summary: str,
    *,
    description: str | None = None,
    tags: Sequence[str] = (),
    path: Mapping[str, object] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: object = None,
    status: int = 200,
    also: Sequence[int] = (),
    errors: Sequence[int] = (),
    paginated: bool = False,
    csv: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Callable[[H], H]:
    """Describe a handler for the OpenAPI document.

    `path` maps each `{name}` of the route to its type (e.g. `{"id": UUID}`); `errors` lists the
    error statuses the handler itself raises beyond those the builder adds from what it takes
    (401/403/429 on /api, 422 for a query, 400/413/422 for a body, 404 for a path id);
    `headers` names response headers of the success response with their description.
    """
    described = Operation(
        summary=summary, description=description, tags=tuple(tags), path=dict(path or {}), query=query,
        body=body, response=response, status=status, also=tuple(also), errors=tuple(errors),
        paginated=paginated, csv=csv, headers=dict(headers or {}),
    )

    def attach(handler: H) -> H:
        setattr(handler, _ATTRIBUTE, described)
        return handler

    return attach


def operation_of(handler: object) -> Operation | None:
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
