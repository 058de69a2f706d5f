"""Mastodon payloads, read purely: account entities to observations, the `<instance>:<id>`
external ids, and the account references people type (`@user@instance`, `user@instance`,
`https://instance/@user`).

Counts are JSON numbers (`followers_count`, `following_count`, `statuses_count`); a count the
server leaves out (hidden) gives no point, never 0. `hide_collections: true` hides the lists
only, the counts are still reported. An account that has `moved` elsewhere or is `suspended`
cannot be tracked here any more and is reported as not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from sma_common.errors import NotFound
from sma_platforms.base import Observation
from sma_platforms.payload import as_list, as_mapping, get_count, get_str, require_str, split_url

ACCOUNT_ID_PATTERN = re.compile(r"[0-9]{1,20}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?")
# A DNS name, optionally with a port (self-hosted test servers).
INSTANCE_PATTERN = re.compile(
    r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:[0-9]{1,5})?"
)
# Account entity count field → contract metric name.
_COUNTS = (("followers_count", "followers"), ("following_count", "following"), ("statuses_count", "posts"))


@dataclass(frozen=True, slots=True)
class AccountKey:
    """An account's immutable identity: its home instance and its id there."""

    instance: str
    id: str

    @property
    def external_id(self) -> str:
        return f"{self.instance}:{self.id}"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """What a user typed: a username on its home instance."""

    username: str
    instance: str


@dataclass(frozen=True, slots=True)
class MastodonAccount:
    id: str
    username: str
    acct: str
    display_name: str | None
    observations: tuple[Observation, ...]
    unavailable: str | None = None
    """Why the account cannot be tracked (moved or suspended), or None."""


def parse_external_id(external_id: str) -> AccountKey | None:
    """`mastodon.social:109302…` → (`mastodon.social`, `109302…`); None when malformed."""
    instance, sep, account_id = external_id.strip().rpartition(":")
    instance = instance.lower()
    if not sep or INSTANCE_PATTERN.fullmatch(instance) is None or ACCOUNT_ID_PATTERN.fullmatch(account_id) is None:
        return None
    return AccountKey(instance, account_id)


def parse_account_ref(account: str) -> AccountRef:
    """`@user@instance`, `user@instance` or `https://instance/@user[/…]`; raises `NotFound` for
    anything that does not name an account on an instance."""
    text = account.strip()
    if "/" in text:
        return _ref_from_url(text, account)
    username, sep, instance = text.removeprefix("@").partition("@")
    return _ref(username, instance if sep else "", account)


def _ref_from_url(text: str, original: str) -> AccountRef:
    parts = split_url(text, original)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or not segments or not segments[0].startswith("@"):
        raise NotFound(f"not a Mastodon profile URL: {original!r}")
    # `https://a.example/@user@b.example` is b.example's account as a.example shows it.
    username, sep, home = segments[0].removeprefix("@").partition("@")
    return _ref(username, home if sep else parts.netloc, original)


def _ref(username: str, instance: str, original: str) -> AccountRef:
    instance = instance.lower()
    if USERNAME_PATTERN.fullmatch(username) is None or not instance or INSTANCE_PATTERN.fullmatch(instance) is None:
        raise NotFound(f"not a Mastodon account (expected @user@instance): {original!r}")
    return AccountRef(username, instance)


def parse_account(raw: object) -> MastodonAccount:
    """One account entity. A count it omits gives no observation (never 0)."""
    entity = as_mapping(raw, "account")
    observations = tuple(
        Observation(metric, value) for field, metric in _COUNTS if (value := get_count(entity, field)) is not None
    )
    return MastodonAccount(
        id=require_str(entity, "id", "account"),
        username=require_str(entity, "username", "account"),
        acct=require_str(entity, "acct", "account"),
        display_name=get_str(entity, "display_name"),
        observations=observations,
        unavailable=_unavailable(entity),
    )


def _unavailable(entity: object) -> str | None:
    entity = as_mapping(entity, "account")
    moved = entity.get("moved")
    if moved:
        target = get_str(moved, "acct") if isinstance(moved, dict) else None
        return f"the account has moved to {target or 'another account'}; track the new account instead"
    if entity.get("suspended") is True:
        return "the account is suspended by its instance"
    return None


def parse_accounts(body: object) -> dict[str, MastodonAccount]:
    """`GET /api/v1/accounts?id[]=…`: the accounts that exist, by id; unknown ids are absent."""
    accounts = [parse_account(raw) for raw in as_list(body, "accounts")]
    return {account.id: account for account in accounts}
