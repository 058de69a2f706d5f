"""Twitch Helix payloads, read purely: users, live streams and follower totals to observations,
the app-token response, and the account references people type (login, @login, channel URL,
numeric user id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sma_common.errors import NotFound
from sma_platforms.base import Observation
from sma_platforms.oauth import TokenGrant, parse_token_grant
from sma_platforms.payload import (
    as_list,
    as_mapping,
    get_count,
    get_str,
    require_str,
    split_url,
)

LOGIN_PATTERN = re.compile(r"[a-z0-9_]{1,25}")
USER_ID_PATTERN = re.compile(r"[0-9]{1,20}")
# twitch.tv paths that are pages, not channels.
_RESERVED_PATHS = frozenset(
    {"directory", "videos", "settings", "search", "downloads", "jobs", "turbo", "subscriptions",
     "inventory", "wallet", "drops", "p", "friends", "messages", "payments"}
)


@dataclass(frozen=True, slots=True)
class TwitchUser:
    id: str
    login: str
    display_name: str | None


@dataclass(frozen=True, slots=True)
class AccountRef:
    """What a user typed, reduced to the query Helix understands."""

    kind: Literal["id", "login"]
    value: str


def is_user_id(value: str) -> bool:
    return USER_ID_PATTERN.fullmatch(value) is not None


def parse_account_ref(account: str) -> AccountRef:
    """`twitchdev`, `@twitchdev`, `twitch.tv/twitchdev`, `https://www.twitch.tv/twitchdev/videos`
    or `141981764`; raises `NotFound` for anything that cannot name a Twitch channel."""
    text = account.strip().removeprefix("@")
    if "/" in text or "twitch.tv" in text.lower():
        text = _login_from_url(text, account)
    if is_user_id(text):
        return AccountRef("id", text)
    login = text.lower()
    if LOGIN_PATTERN.fullmatch(login) is None:
        raise NotFound(f"not a Twitch login, channel URL or user id: {account!r}")
    return AccountRef("login", login)


def _login_from_url(text: str, original: str) -> str:
    parts = split_url(text, original)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if not (host == "twitch.tv" or host.endswith(".twitch.tv")) or not segments:
        raise NotFound(f"not a Twitch channel URL: {original!r}")
    if segments[0].lower() in _RESERVED_PATHS:
        raise NotFound(f"not a Twitch channel URL: {original!r}")
    return segments[0]


def parse_users(body: object) -> dict[str, TwitchUser]:
    """`GET /users`: the users that exist, by id. Unknown ids are simply absent from `data`."""
    users: dict[str, TwitchUser] = {}
    for raw in as_list(as_mapping(body, "users").get("data"), "users.data"):
        item = as_mapping(raw, "users.data[]")
        user_id = require_str(item, "id", "users.data[]")
        users[user_id] = TwitchUser(
            id=user_id, login=require_str(item, "login", "users.data[]"), display_name=get_str(item, "display_name")
        )
    return users


def parse_live_streams(body: object) -> dict[str, float | None]:
    """`GET /streams`: viewer count by user id for channels that are live (offline ones are absent).

    Streams are matched by `user_id`: older payloads lack `user_login`.
    """
    live: dict[str, float | None] = {}
    for raw in as_list(as_mapping(body, "streams").get("data"), "streams.data"):
        item = as_mapping(raw, "streams.data[]")
        if item.get("type", "live") != "live":
            continue
        live[require_str(item, "user_id", "streams.data[]")] = get_count(item, "viewer_count")
    return live


def parse_follower_total(body: object) -> float | None:
    """`GET /channels/followers`: the top-level `total` (never the length of `data`)."""
    return get_count(as_mapping(body, "channels/followers"), "total")


def parse_token(body: object) -> TokenGrant:
    return parse_token_grant(body, "oauth2/token")


def channel_observations(
    *, is_live: bool, live_viewers: float | None, followers: float | None
) -> tuple[Observation, ...]:
    """A channel's points: followers when known, is_live always, live_viewers only while live."""
    points = [Observation("is_live", 1.0 if is_live else 0.0)]
    if followers is not None:
        points.insert(0, Observation("followers", followers))
    if is_live and live_viewers is not None:
        points.append(Observation("live_viewers", live_viewers))
    return tuple(points)
