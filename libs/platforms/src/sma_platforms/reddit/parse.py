"""Reddit payloads, read purely: `/api/info` listings, `/about` things and
`/api/user_data_by_account_ids` answers to observations, the application-only token response,
Reddit's error outcomes, and the account references people type (`r/name`, `/r/name`,
`reddit.com/r/name`, `t5_…`, `u/name`, `t2_…`).

Subreddits report `subscribers` and, while Reddit still serves them, `active_user_count` or
`accounts_active` (removed from the API around September 2025): an absent figure is no point.
Users report `link_karma` and `comment_karma`; `/user/{name}/about` also reports `total_karma`,
the batch `/api/user_data_by_account_ids` does not (so batch-fetched users have no
`karma_total` point: it is never computed from the other two).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from sma_common.errors import NotFound
from sma_platforms.base import Observation, Outcome
from sma_platforms.oauth import TokenGrant, parse_token_grant
from sma_platforms.payload import as_list, as_mapping, get_count, get_str, require_str, split_url

SUBREDDIT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,20}")
FULLNAME_PATTERN = re.compile(r"t[25]_[a-z0-9]{1,13}")
_REDDIT_HOSTS = frozenset({"reddit.com", "www.reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com",
                           "m.reddit.com", "sh.reddit.com"})
_KARMA = (("link_karma", "karma_link"), ("comment_karma", "karma_comment"), ("total_karma", "karma_total"))


@dataclass(frozen=True, slots=True)
class RedditThing:
    """A subreddit (`t5_`) or an account (`t2_`): its fullname, name and figures."""

    fullname: str
    name: str
    title: str | None
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class UserData:
    """`/api/user_data_by_account_ids`: the accounts it returned, by fullname, and the entries
    present but unreadable (fullname → why), which are neither found nor missing."""

    users: dict[str, RedditThing]
    unreadable: dict[str, str]


@dataclass(frozen=True, slots=True)
class RedditRef:
    """What a user typed: a subreddit or user name, or a fullname."""

    kind: Literal["subreddit", "user", "fullname"]
    value: str


def is_subreddit_id(value: str) -> bool:
    return value.startswith("t5_") and FULLNAME_PATTERN.fullmatch(value) is not None


def is_user_id(value: str) -> bool:
    return value.startswith("t2_") and FULLNAME_PATTERN.fullmatch(value) is not None


def subreddit_name(handle: str) -> str:
    """The bare, lower-cased subreddit name of a stored handle (`r/Foo` → `foo`)."""
    return handle.strip().strip("/").removeprefix("r/").lower()


def parse_ref(account: str) -> RedditRef:
    """`t5_…`/`t2_…`, `r/name`, `/r/name`, `reddit.com/r/name[/…]`, `u/name`, `reddit.com/user/name`
    or a bare subreddit name; raises `NotFound` for anything that names neither."""
    text = account.strip()
    if FULLNAME_PATTERN.fullmatch(text):
        return RedditRef("fullname", text)
    if "reddit.com" in text.lower() or "://" in text:
        parts = split_url(text, account)
        if (parts.hostname or "").lower() not in _REDDIT_HOSTS:
            raise NotFound(f"not a Reddit URL: {account!r}")
        text = parts.path
    segments = [unquote(s) for s in text.split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "r" and SUBREDDIT_PATTERN.fullmatch(segments[1]):
        return RedditRef("subreddit", segments[1].lower())
    if len(segments) >= 2 and segments[0].lower() in ("u", "user") and USERNAME_PATTERN.fullmatch(segments[1]):
        return RedditRef("user", segments[1])
    if len(segments) == 1 and "://" not in account and SUBREDDIT_PATTERN.fullmatch(segments[0]):
        return RedditRef("subreddit", segments[0].lower())
    raise NotFound(f"not a subreddit, Reddit user or fullname: {account!r}")


def parse_token(body: object) -> TokenGrant:
    return parse_token_grant(body, "access_token")


def parse_subreddit(raw: object) -> RedditThing:
    """A `t5` thing; a figure it omits gives no observation (never 0)."""
    data = as_mapping(as_mapping(raw, "t5").get("data"), "t5.data")
    observations = []
    if (subscribers := get_count(data, "subscribers")) is not None:
        observations.append(Observation("subscribers", subscribers))
    active = get_count(data, "active_user_count")
    if active is None:
        active = get_count(data, "accounts_active")
    if active is not None:
        observations.append(Observation("active_users", active))
    return RedditThing(
        fullname=require_str(data, "name", "t5.data"),
        name=require_str(data, "display_name", "t5.data"),
        title=get_str(data, "title"),
        observations=tuple(observations),
    )


def parse_listing(body: object) -> dict[str, RedditThing]:
    """`/api/info`: the `t5` children of a Listing, by fullname (unknown names are omitted)."""
    listing = as_mapping(body, "Listing")
    children = as_list(as_mapping(listing.get("data"), "Listing.data").get("children"), "Listing.children")
    things = [parse_subreddit(c) for c in children if isinstance(c, Mapping) and c.get("kind") == "t5"]
    return {thing.fullname: thing for thing in things}


def parse_about(body: object) -> RedditThing | None:
    """`/r/{name}/about` or `/user/{name}/about`; None when the answer is not a t5/t2 thing (a
    nonexistent subreddit may be redirected to a search listing)."""
    kind = body.get("kind") if isinstance(body, Mapping) else None
    if kind == "t5":
        return parse_subreddit(body)
    if kind != "t2":
        return None
    data = as_mapping(as_mapping(body, "t2").get("data"), "t2.data")
    return RedditThing(
        fullname="t2_" + require_str(data, "id", "t2.data"),
        name=require_str(data, "name", "t2.data"),
        title=None,
        observations=_karma(data),
    )


def _karma(data: Mapping[str, object]) -> tuple[Observation, ...]:
    """The karma figures present (an absent one is no point, never 0)."""
    return tuple(Observation(metric, value) for field, metric in _KARMA
                 if (value := get_count(data, field)) is not None)


def parse_user_data(body: object) -> UserData:
    """`/api/user_data_by_account_ids`: an object keyed by `t2_` fullname; ids that do not exist
    (or are suspended or deleted) are absent. An entry that is not an object, or that carries no
    karma figure, is unreadable rather than a success without points; keys that are not user
    fullnames are ignored. A body that is not an object is malformed."""
    users: dict[str, RedditThing] = {}
    unreadable: dict[str, str] = {}
    for fullname, raw in as_mapping(body, "user_data_by_account_ids").items():
        if not is_user_id(fullname):
            continue
        if not isinstance(raw, Mapping):
            unreadable[fullname] = f"user data for {fullname}: expected an object, got {type(raw).__name__}"
        elif not (observations := _karma(raw)):
            unreadable[fullname] = f"user data for {fullname}: no link or comment karma"
        else:
            users[fullname] = RedditThing(fullname=fullname, name=get_str(raw, "name") or "", title=None,
                                          observations=observations)
    return UserData(users, unreadable)


def refine_outcome(status: int, body: object) -> Outcome | None:
    """A 403 from the API is a private, banned or gated subreddit (`reason`): not found for us,
    not an auth error (bad credentials show up as 401 instead)."""
    if status == 403:
        return Outcome.NOT_FOUND
    return None
