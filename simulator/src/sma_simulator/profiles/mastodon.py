"""Mastodon's world: accounts on several instances, `user@instance` handles, ids of the form
`<instance>:<snowflake id on that instance>` (the id SMA keys rows by), and followers,
following and posts.

`mastodon.social` runs 4.3+ (the `GET /api/v1/accounts?id[]=` batch route exists) and
`legacy.example` an older version (no batch route). Generated accounts alternate between them.
One demo account's server leaves its follower and following counts out of the account entity,
so clients can be checked for storing no point rather than 0; one account has moved and one
is suspended.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount

# Instance → the Mastodon version it reports; 4.3.0 added the batch route.
INSTANCES = {"mastodon.social": "4.3.2", "legacy.example": "4.1.19"}
BATCH_ROUTE_SINCE = (4, 3)
HIDDEN_COUNTS = frozenset({"smaquiet@mastodon.social"})
MOVED = {"smamoved@legacy.example": "smademo@mastodon.social"}
SUSPENDED = frozenset({"smabanned@mastodon.social"})

DEMO_ACCOUNTS = (
    DemoAccount("Mastodon@mastodon.social", "Mastodon"),
    DemoAccount("smademo@mastodon.social", "SMA Demo"),
    DemoAccount("smaold@legacy.example", "SMA on an older server"),
    DemoAccount("smaquiet@mastodon.social", "SMA Quiet"),
    DemoAccount("smamoved@legacy.example", "SMA (moved)"),
    DemoAccount("smabanned@mastodon.social", "SMA Banned"),
)


def instance_of(account: SimAccount) -> str:
    return account.handle.rpartition("@")[2]


def local_id(account: SimAccount) -> str:
    """The account's id on its home instance (what the Mastodon API calls `id`)."""
    return account.id.rpartition(":")[2]


def has_batch_route(instance: str) -> bool:
    version = tuple(int(part) for part in INSTANCES[instance].split(".")[:2])
    return version >= BATCH_ROUTE_SINCE


def derived_id(handle: str) -> str:
    """`<instance>:<18-digit snowflake-like id>`, stable for the handle (case-insensitive)."""
    instance = handle.rpartition("@")[2].lower()
    digest = hashlib.blake2b(f"mastodon:{handle.lower()}".encode(), digest_size=8).digest()
    return f"{instance}:{100_000_000_000_000_000 + int.from_bytes(digest, 'big') % 900_000_000_000_000_000}"


def _generated_handle(number: int) -> str:
    instances = list(INSTANCES)
    return f"sim{number:04d}@{instances[(number - 1) % len(instances)]}"


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    if account.handle in SUSPENDED or account.handle in MOVED:
        return {}  # nothing a client should store
    figures = {"posts": float(source.posts(account, at))}
    if account.handle not in HIDDEN_COUNTS:
        figures = {"followers": float(source.followers(account, at)),
                   "following": float(source.following(account, at)), **figures}
    return figures


PROFILE = PlatformProfile(
    demo_accounts=DEMO_ACCOUNTS,
    generated_handle=_generated_handle,
    generated_label="Sim",
    derived_id=derived_id,
    figures=_figures,
)
