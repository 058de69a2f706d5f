"""Reading untrusted platform JSON: typed accessors shared by every platform's `parse.py`, and
the URL splitting of the account references people type.

A figure the platform omits or hides, or that no float can hold, is `None` (never 0). A body of
the wrong shape raises `MalformedResponse`, so a platform change shows up as a failed fetch
instead of bad points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from sma_common.errors import NotFound, UpstreamUnavailable


class MalformedResponse(UpstreamUnavailable):
    """The platform answered with a body this client cannot read."""


def as_mapping(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise MalformedResponse(f"{what}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise MalformedResponse(f"{what}: expected an array, got {type(value).__name__}")
    return value


def get_str(mapping: Mapping[str, object], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def require_str(mapping: Mapping[str, object], key: str, what: str) -> str:
    value = get_str(mapping, key)
    if value is None:
        raise MalformedResponse(f"{what}: missing string field {key!r}")
    return value


def get_count(mapping: Mapping[str, object], key: str) -> float | None:
    """A non-negative count, from a JSON number or a numeric string (YouTube sends strings)."""
    value = mapping.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # an int past 1.8e308 (JSON allows any length) does not fit
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def split_url(text: str, original: str) -> SplitResult:
    """`text` as a URL (`https://` assumed when it has no scheme); `NotFound` when it cannot be one
    at all (an unbalanced `[` makes `urlsplit` raise ValueError)."""
    try:
        return urlsplit(text if "://" in text else f"https://{text}")
    except ValueError:
        raise NotFound(f"not a profile URL: {original!r}") from None
