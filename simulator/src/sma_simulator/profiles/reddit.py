"""Reddit's world: `t5_` subreddit fullnames (base-36 ids), `simsubnnnn` names, subscribers and,
for most subreddits, active users (Reddit stopped serving them around September 2025, so some
simulated subreddits omit them); a private subreddit; and a few users (`u/…`, `t2_` fullnames)
with link, comment and total karma."""

from __future__ import annotations

import string
from datetime import datetime

from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount, unit

PRIVATE_SUBREDDIT = "smaprivate"
DEMO_ACCOUNTS = (
    DemoAccount("announcements", "Official Reddit announcements", known_id="t5_2r0ij"),
    DemoAccount("smademo", "SMA Demo"),
    DemoAccount("smanews", "SMA News"),
    DemoAccount(PRIVATE_SUBREDDIT, "SMA Private"),
    DemoAccount("u/smademo_user", "smademo_user"),
    DemoAccount("u/watchful1", "Watchful1", known_id="t2_d0z23"),
)
_DEMO_HANDLES = frozenset(d.handle for d in DEMO_ACCOUNTS)
NO_ACTIVE_USERS_SHARE = 0.2
_BASE36 = string.digits + string.ascii_lowercase


def derived_id(handle: str) -> str:
    """`t5_` (subreddit) or `t2_` (user, handle `u/name`) plus a base-36 id of 7 characters."""
    number = 36**6 + int(unit("fullname", handle) * (36**7 - 36**6))
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
    return ("t2_" if handle.startswith("u/") else "t5_") + digits


def is_user(account: SimAccount) -> bool:
    return account.id.startswith("t2_")


def is_private(account: SimAccount) -> bool:
    return account.handle == PRIVATE_SUBREDDIT


def active_users_missing(account: SimAccount) -> bool:
    """Whether the subreddit's listing omits active users (never a demo subreddit)."""
    return account.handle not in _DEMO_HANDLES and unit("no-active", account.handle) < NO_ACTIVE_USERS_SHARE


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    if is_user(account):
        link, comment = source.posts(account, at) * 7, source.followers(account, at)
        return {"karma_link": float(link), "karma_comment": float(comment), "karma_total": float(link + comment)}
    figures = {"subscribers": float(source.followers(account, at))}
    if not active_users_missing(account):
        figures["active_users"] = float(source.following(account, at))
    return figures


PROFILE = PlatformProfile(
    demo_accounts=DEMO_ACCOUNTS,
    generated_handle=lambda number: f"simsub{number:04d}",
    generated_label="Sim Subreddit",
    derived_id=derived_id,
    figures=_figures,
)
