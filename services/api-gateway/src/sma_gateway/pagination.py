"""Keyset pagination: opaque cursors, page-size bounds and RFC 8288 `Link: <...>; rel="next"` headers.

A cursor is the sort key of the last row a client saw, as URL-safe base64 of a JSON array; it is
opaque to clients and validated against the shape the route expects when it comes back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError
from yarl import URL

from sma_gateway.problem import FieldError, invalid

T = TypeVar("T")
CursorValue = str | int


def encode_cursor(values: Sequence[CursorValue]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode()


def decode_cursor(cursor: str, shape: TypeAdapter[T]) -> T:
    """The cursor's values validated by `shape` (e.g. of `tuple[datetime, UUID]`); 422 if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return shape.validate_python(orjson.loads(raw))
    except (binascii.Error, ValueError, OverflowError, ValidationError):
        raise invalid([FieldError("query", "cursor", "not a cursor this list handed out")]) from None


def page_limit(requested: int | None, default: int, maximum: int) -> int:
    if requested is None:
        return default
    if requested > maximum:
        raise invalid([FieldError("query", "limit", f"Input should be less than or equal to {maximum}")])
    return requested


def next_link(request_url: URL, **params: str) -> str:
    """`Link` value for the next page: the same path and query with `params` replaced.

    The target is a path-absolute reference, so it stays right behind proxies that rewrite the host.
    """
    target = (request_url.relative() if request_url.absolute else request_url).update_query(params)
    return f'<{target}>; rel="next"'


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], T | None]:
    """Rows fetched with `limit + 1`: the page, and its last row when another page follows."""
    page = list(rows[:limit])
    return page, (page[-1] if len(rows) > limit and page else None)

