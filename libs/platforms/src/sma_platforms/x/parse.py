"""X API v2 payloads, read purely: user lookups to observations, the partial-result `errors[]`
array to per-id outcomes, problem+json and v1.1 error bodies to outcomes, and the account
references people type (numeric user id, @username, x.com or twitter.com profile URL).

Counts live under `public_metrics` and are only sent when `user.fields=public_metrics` was
asked for: a missing figure is no point (never 0). Ids are strings and stay strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from sma_common.errors import NotFound
from sma_platforms.base import Observation, Outcome
from sma_platforms.payload import as_list, as_mapping, get_count, get_str, require_str, split_url

USER_ID_PATTERN = re.compile(r"[0-9]{1,20}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,15}")
NOT_FOUND_TITLE = "Not Found Error"
NOT_FOUND_TYPE = "/problems/resource-not-found"
_X_HOSTS = frozenset({"x.com", "twitter.com", "mobile.x.com", "mobile.twitter.com"})
# Paths under x.com that are not profiles.
_RESERVED = frozenset({"i", "home", "explore", "search", "settings", "intent", "share", "hashtag", "messages"})
# public_metrics field → contract metric name.
_COUNTS = (("followers_count", "followers"), ("following_count", "following"), ("tweet_count", "posts"),
           ("listed_count", "listed"))
# The v1.1 "Rate limit exceeded" code, which the docs' 429 sample still uses.
_RATE_LIMIT_CODE = 88


@dataclass(frozen=True, slots=True)
class XUser:
    id: str
    username: str
    name: str | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class UserLookup:
    """One lookup's answer: users found by id, and the outcome of every id `errors[]` named."""

    users: dict[str, XUser] = field(default_factory=dict)
    errors: dict[str, tuple[Outcome, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserRef:
    """What a user typed, reduced to the lookup that finds it."""

    kind: Literal["id", "username"]
    value: str


def is_user_id(value: str) -> bool:
    return USER_ID_PATTERN.fullmatch(value) is not None


def parse_user_ref(account: str) -> UserRef:
    """`2244994945`, `@XDevelopers`, `XDevelopers`, `x.com/XDevelopers`, `https://twitter.com/XDevelopers`
    (trailing `/status/...` allowed) or `x.com/i/user/<id>`; raises `NotFound` for anything else."""
    text = account.strip()
    if "/" in text or "." in text:
        return _ref_from_url(text, account)
    if is_user_id(text):
        return UserRef("id", text)
    username = text.removeprefix("@")
    if USERNAME_PATTERN.fullmatch(username) is None:
        raise NotFound(f"not an X user id, @username or profile URL: {account!r}")
    return UserRef("username", username)


def _ref_from_url(text: str, original: str) -> UserRef:
    parts = split_url(text, original)
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host not in _X_HOSTS or not segments:
        raise NotFound(f"not an X profile URL: {original!r}")
    if segments[:2] == ["i", "user"] and len(segments) > 2 and is_user_id(segments[2]):
        return UserRef("id", segments[2])
    username = segments[0].removeprefix("@")
    if username.lower() in _RESERVED or USERNAME_PATTERN.fullmatch(username) is None:
        raise NotFound(f"not an X profile URL: {original!r}")
    return UserRef("username", username)


def parse_user(raw: object) -> XUser:
    """One user object. A count it omits (or `public_metrics` absent altogether) gives no point."""
    user = as_mapping(raw, "users.data[]")
    metrics = as_mapping(user.get("public_metrics", {}), "users.data[].public_metrics")
    observations = tuple(Observation(metric, value) for key, metric in _COUNTS
                         if (value := get_count(metrics, key)) is not None)
    return XUser(
        id=require_str(user, "id", "users.data[]"),
        username=require_str(user, "username", "users.data[]"),
        name=get_str(user, "name"),
        observations=observations,
    )


def parse_users(body: object) -> UserLookup:
    """A `/2/users`, `/2/users/by` or `/2/users/by/username/:username` answer (HTTP 200).

    `data` is a list (an object for single lookups) and is absent when nothing resolved;
    `errors[]` names the ids or usernames that did not, each in `value` or `resource_id`.
    """
    mapping = as_mapping(body, "users")
    data = mapping.get("data")
    raw_users = [] if data is None else [data] if isinstance(data, Mapping) else as_list(data, "users.data")
    users = {user.id: user for user in map(parse_user, raw_users)}
    errors: dict[str, tuple[Outcome, str]] = {}
    raw_errors = mapping.get("errors")
    for raw in as_list(raw_errors, "users.errors") if raw_errors is not None else ():
        entry = as_mapping(raw, "users.errors[]")
        key = get_str(entry, "value") or get_str(entry, "resource_id")
        if key is not None:
            errors.setdefault(key, (error_outcome(entry), error_detail(entry)))
    return UserLookup(users, errors)


def error_outcome(entry: Mapping[str, object]) -> Outcome:
    """A partial-result error: not found and suspended users are not_found, anything else failed."""
    title, kind, detail = (get_str(entry, k) or "" for k in ("title", "type", "detail"))
    if title == NOT_FOUND_TITLE or kind.endswith(NOT_FOUND_TYPE) or "suspended" in detail.lower():
        return Outcome.NOT_FOUND
    return Outcome.FAILED


def error_detail(entry: Mapping[str, object]) -> str:
    return (get_str(entry, "detail") or get_str(entry, "title") or "X reported an error for this user")[:200]


def refine_outcome(status: int, body: object) -> Outcome | None:
    """A failed reply with the v1.1 `{"errors": [{"code": 88}]}` body is a rate limit whatever its
    status; a 200 is read by `parse_users`; everything else uses the shared mapping."""
    errors = body.get("errors") if isinstance(body, Mapping) and status >= 400 else None
    if isinstance(errors, list) and any(isinstance(e, Mapping) and e.get("code") == _RATE_LIMIT_CODE for e in errors):
        return Outcome.RATE_LIMITED
    return None
