"""Rate-limit headers in each platform's dialect, read into one `RateLimitState`.

Platforms agree on little: Twitch and Bluesky send `ratelimit-*` with an epoch reset, X sends
`x-rate-limit-*` (epoch), Reddit `x-ratelimit-*` with seconds remaining and a decimal
`remaining`, Mastodon `x-ratelimit-*` with an ISO-8601 reset. Header names are matched
case-insensitively.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from sma_platforms.base import RateLimitState

ResetKind = Literal["epoch", "seconds", "iso"]


@dataclass(frozen=True, slots=True)
class RateLimitFormat:
    """Where a platform puts its budget: header prefix and how the reset time is written."""

    prefix: str
    reset: ResetKind = "epoch"


def parse_rate_limit(headers: Mapping[str, str], fmt: RateLimitFormat, now: datetime) -> RateLimitState | None:
    """The state the headers describe, or None when the response carried none of them."""
    lowered = {name.lower(): value for name, value in headers.items()}
    prefix = fmt.prefix.lower()
    limit = _parse_int(lowered.get(f"{prefix}limit"))
    remaining = _parse_int(lowered.get(f"{prefix}remaining"))
    reset_at = _parse_reset(lowered.get(f"{prefix}reset"), fmt.reset, now)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateLimitState(limit=limit, remaining=remaining, reset_at=reset_at)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date), never negative."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    seconds = _parse_number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _parse_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_int(value: str | None) -> int | None:
    number = _parse_number(value)
    return int(number) if number is not None else None


def _parse_reset(value: str | None, kind: ResetKind, now: datetime) -> datetime | None:
    if value is None:
        return None
    if kind == "iso":
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    number = _parse_number(value)
    if number is None or number < 0:
        return None
    # A reset past year 9999 (a garbled header) is no reset rather than an OverflowError.
    try:
        if kind == "seconds":
            return now + timedelta(seconds=number)
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None
