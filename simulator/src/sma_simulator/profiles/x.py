"""X's world: numeric snowflake-style user ids, `sim_x_nnnn` usernames, followers, following,
posts (`tweet_count`) and listed counts. Some accounts are protected and serve no
`listed_count`, so a correct client stores no listed point for them (never 0)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount

DEMO_ACCOUNTS = (
    DemoAccount("XDevelopers", "Developers", known_id="2244994945"),
    DemoAccount("sma_demo", "SMA Demo"),
    DemoAccount("sma_news", "SMA News"),
)
GENERATED_PREFIX = "sim_x_"
PROTECTED_EVERY = 5


def derived_id(handle: str) -> str:
    """A 19-digit id, the size of today's snowflake user ids (never starting with 0)."""
    digest = hashlib.blake2b(f"user:{handle.lower()}".encode(), digest_size=8).digest()
    return str(10**18 + int.from_bytes(digest, "big") % (9 * 10**18))


def is_protected(account: SimAccount) -> bool:
    """Whether the account is protected and serves no listed_count: every `PROTECTED_EVERY`th
    generated account (`sim_x_0005`, `sim_x_0010`, ...), never a demo account."""
    number = account.handle.removeprefix(GENERATED_PREFIX)
    return account.handle.startswith(GENERATED_PREFIX) and number.isdigit() and int(number) % PROTECTED_EVERY == 0


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    figures = {
        "followers": float(source.followers(account, at)),
        "following": float(source.following(account, at)),
        "posts": float(source.posts(account, at)),
    }
    if not is_protected(account):
        figures["listed"] = float(int(figures["followers"]) // 250)
    return figures


PROFILE = PlatformProfile(
    demo_accounts=DEMO_ACCOUNTS,
    generated_handle=lambda number: f"{GENERATED_PREFIX}{number:04d}",
    generated_label="Sim X",
    derived_id=derived_id,
    figures=_figures,
)
