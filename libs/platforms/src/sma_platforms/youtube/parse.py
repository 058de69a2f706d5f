"""YouTube Data API v3 payloads, read purely: channels.list to observations, Google error
envelopes to outcomes, the Pacific-midnight quota reset, and the account references people type
(channel id, /channel/ URL, @handle, youtube.com/@handle URL).

Counts arrive as JSON strings. `subscriberCount` is stored as returned, although YouTube rounds
it down to three significant figures; `hiddenSubscriberCount: true` means no subscribers point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from sma_common.errors import NotFound
from sma_platforms.base import Observation, Outcome
from sma_platforms.payload import as_list, as_mapping, get_count, get_str, require_str, split_url

CHANNEL_ID_PATTERN = re.compile(r"UC[A-Za-z0-9_-]{22}")
HANDLE_PATTERN = re.compile(r"[A-Za-z0-9._-]{3,30}")
PACIFIC = ZoneInfo("America/Los_Angeles")
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
# Short per-user or per-second limits: a rate limit too, but not until Pacific midnight.
_RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
_BAD_KEY_REASONS = frozenset({"keyInvalid", "API_KEY_INVALID", "keyExpired", "API_KEY_EXPIRED"})
_YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
# Statistics field → contract metric name (subscribers handled apart: it may be hidden).
_COUNTS = (("viewCount", "views"), ("videoCount", "videos"))


@dataclass(frozen=True, slots=True)
class YouTubeChannel:
    id: str
    handle: str | None
    title: str | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """What a user typed, reduced to the channels.list selector that finds it."""

    kind: Literal["id", "handle"]
    value: str


def is_channel_id(value: str) -> bool:
    return CHANNEL_ID_PATTERN.fullmatch(value) is not None


def parse_channel_ref(account: str) -> ChannelRef:
    """`UC…`, `https://www.youtube.com/channel/UC…[/videos]`, `@handle`, `handle` or
    `youtube.com/@handle[/videos]`; raises `NotFound` for anything that cannot name a channel."""
    text = account.strip()
    if "/" in text or "youtube.com" in text.lower():
        text = _ref_from_url(text, account)
    if is_channel_id(text):
        return ChannelRef("id", text)
    handle = text.removeprefix("@")
    if HANDLE_PATTERN.fullmatch(handle) is None:
        raise NotFound(f"not a YouTube channel id, channel URL or @handle: {account!r}")
    return ChannelRef("handle", f"@{handle.lower()}")


def _ref_from_url(text: str, original: str) -> str:
    parts = split_url(text, original)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if (parts.hostname or "").lower() not in _YOUTUBE_HOSTS or not segments:
        raise NotFound(f"not a YouTube channel URL: {original!r}")
    if segments[0] == "channel" and len(segments) > 1 and is_channel_id(segments[1]):
        return segments[1]
    if segments[0].startswith("@"):
        return segments[0]
    raise NotFound(f"not a YouTube channel URL: {original!r}")


def parse_channel(raw: object) -> YouTubeChannel:
    """One channel resource. A count it omits or hides gives no observation (never 0)."""
    item = as_mapping(raw, "channels.items[]")
    statistics = as_mapping(item.get("statistics", {}), "channels.items[].statistics")
    snippet = as_mapping(item.get("snippet", {}), "channels.items[].snippet")
    observations = []
    subscribers = get_count(statistics, "subscriberCount")
    if subscribers is not None and statistics.get("hiddenSubscriberCount") is not True:
        observations.append(Observation("subscribers", subscribers))
    observations += [Observation(metric, value) for field, metric in _COUNTS
                     if (value := get_count(statistics, field)) is not None]
    return YouTubeChannel(
        id=require_str(item, "id", "channels.items[]"),
        handle=get_str(snippet, "customUrl"),
        title=get_str(snippet, "title"),
        observations=tuple(observations),
    )


def parse_channels(body: object) -> dict[str, YouTubeChannel]:
    """channels.list: the channels that exist, by id. Unknown ids are absent, and a reply that
    found none has no `items` key at all."""
    items = as_mapping(body, "channels").get("items")
    if items is None:
        return {}
    channels = [parse_channel(raw) for raw in as_list(items, "channels.items")]
    return {channel.id: channel for channel in channels}


def error_reasons(body: object) -> set[str]:
    """Every `reason` in a Google error envelope, legacy `errors[]` and newer `details[]` alike."""
    if not isinstance(body, Mapping) or not isinstance(error := body.get("error"), Mapping):
        return set()
    reasons = set()
    for key in ("errors", "details"):
        entries = error.get(key)
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, Mapping) and isinstance(reason := entry.get("reason"), str):
                reasons.add(reason)
    return reasons


def is_quota_exceeded(status: int, body: object) -> bool:
    return status == 403 and not QUOTA_REASONS.isdisjoint(error_reasons(body))


def refine_outcome(status: int, body: object) -> Outcome | None:
    """A bad key is a 400; a quota or rate 403 is a rate limit; every other 403 stays auth_error."""
    if is_quota_exceeded(status, body) or (status == 403 and not _RATE_REASONS.isdisjoint(error_reasons(body))):
        return Outcome.RATE_LIMITED
    if status == 400 and not _BAD_KEY_REASONS.isdisjoint(error_reasons(body)):
        return Outcome.AUTH_ERROR
    return None


def quota_reset_at(now: datetime) -> datetime:
    """The next midnight America/Los_Angeles (when the daily quota resets), in UTC."""
    today = now.astimezone(PACIFIC).date()
    return datetime.combine(today + timedelta(days=1), time(), tzinfo=PACIFIC).astimezone(UTC)


def error_message(body: object) -> str | None:
    """`error.message` of a Google error envelope, for logs and execution rows."""
    if isinstance(body, Mapping) and isinstance(error := body.get("error"), Mapping):
        message = error.get("message")
        return message if isinstance(message, str) and message else None
    return None
