"""Bluesky (AT Protocol AppView) payloads, read purely: profiles to observations, XRPC error
bodies to outcomes, and the account references people type (handle, @handle, DID,
bsky.app profile URL, at:// URI).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from sma_common.errors import NotFound
from sma_platforms.base import Observation, Outcome
from sma_platforms.payload import as_list, as_mapping, get_count, get_str, require_str, split_url

DID_PATTERN = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]{1,2040}")
# The atproto handle syntax: DNS labels, at least two, a TLD that does not start with a digit.
HANDLE_PATTERN = re.compile(
    r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE
)
DEFAULT_HANDLE_DOMAIN = "bsky.social"
# XRPC error codes that mean the account cannot be read any more.
_GONE_ERRORS = frozenset({"AccountTakedown", "AccountDeactivated", "AccountNotFound", "ActorNotFound"})
# Profile count field → contract metric name.
_COUNTS = (("followersCount", "followers"), ("followsCount", "following"), ("postsCount", "posts"))


@dataclass(frozen=True, slots=True)
class BlueskyProfile:
    did: str
    handle: str
    display_name: str | None
    observations: tuple[Observation, ...]


def is_actor(value: str) -> bool:
    """A DID or a handle, as getProfile(s) accept them."""
    return DID_PATTERN.fullmatch(value) is not None or (
        len(value) <= 253 and HANDLE_PATTERN.fullmatch(value) is not None
    )


def parse_actor_ref(account: str) -> str:
    """`alice.bsky.social`, `@alice.bsky.social`, `alice` (→ alice.bsky.social), a DID,
    `https://bsky.app/profile/<handle or DID>[/post/...]` or `at://<DID>/...`;
    raises `NotFound` for anything that cannot name a Bluesky account."""
    text = account.strip().removeprefix("@")
    if text.startswith("at://"):
        text = text.removeprefix("at://").split("/", 1)[0]
    elif "/" in text:
        text = _actor_from_url(text, account)
    if text.startswith("did:"):
        if DID_PATTERN.fullmatch(text) is None:
            raise NotFound(f"not a valid DID: {account!r}")
        return text
    handle = text.lower()
    if "." not in handle:
        handle = f"{handle}.{DEFAULT_HANDLE_DOMAIN}"
    if not is_actor(handle):
        raise NotFound(f"not a Bluesky handle, DID or profile URL: {account!r}")
    return handle


def _actor_from_url(text: str, original: str) -> str:
    parts = split_url(text, original)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    host = (parts.hostname or "").lower()
    if host not in ("bsky.app", "www.bsky.app") or len(segments) < 2 or segments[0] != "profile":
        raise NotFound(f"not a Bluesky profile URL: {original!r}")
    return segments[1]


def parse_profile(raw: object) -> BlueskyProfile:
    """One profile view. A count the profile omits gives no observation (never 0)."""
    item = as_mapping(raw, "profile")
    observations = tuple(
        Observation(metric, value)
        for field, metric in _COUNTS
        if (value := get_count(item, field)) is not None
    )
    return BlueskyProfile(
        did=require_str(item, "did", "profile"),
        handle=require_str(item, "handle", "profile"),
        display_name=get_str(item, "displayName"),
        observations=observations,
    )


def parse_profiles(body: object) -> list[BlueskyProfile]:
    """`getProfiles`: the profiles of the actors that exist (unknown ones are silently omitted)."""
    return [parse_profile(raw) for raw in as_list(as_mapping(body, "getProfiles").get("profiles"), "profiles")]


def refine_outcome(status: int, body: object) -> Outcome | None:
    """XRPC answers an unknown or removed actor with 400 and an error code, not 404."""
    if status != 400 or not isinstance(body, Mapping):
        return None
    error, message = body.get("error"), body.get("message")
    if isinstance(error, str) and error in _GONE_ERRORS:  # a list or object is unhashable
        return Outcome.NOT_FOUND
    if error == "InvalidRequest" and isinstance(message, str) and "not found" in message.lower():
        return Outcome.NOT_FOUND
    return None
