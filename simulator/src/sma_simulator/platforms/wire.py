"""Small wire-format helpers the simulated platforms share: JSON bodies and timestamps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
from aiohttp import web


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json", charset="utf-8"
    )


def iso_z(at: datetime, *, millis: bool = False) -> str:
    """`2016-12-14T20:32:28Z` (Twitch) or `2023-09-19T15:47:01.417Z` (AT Protocol)."""
    at = at.astimezone(UTC)
    if millis:
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
