"""YouTube's world: `UC…` channel ids, `@simchannelnnnn` handles, subscribers (rounded down to
three significant figures, as the Data API has served them since September 2019, and hidden
for some channels), views and videos."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount, unit

DEMO_ACCOUNTS = (
    DemoAccount("@googledevelopers", "Google Developers", known_id="UC_x5XG1OV2P6uZZ5FSM9Ttw"),
    DemoAccount("@smademo", "SMA Demo"),
    DemoAccount("@smamusic", "SMA Music"),
)
_DEMO_HANDLES = frozenset(d.handle for d in DEMO_ACCOUNTS)
HIDDEN_SHARE = 0.15


def derived_id(handle: str) -> str:
    """`UC` plus 128 bits in URL-safe base64 (22 characters), the shape of real channel ids."""
    digest = hashlib.blake2b(f"channel:{handle}".encode(), digest_size=16).digest()
    return "UC" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def subscribers_hidden(account: SimAccount) -> bool:
    """Whether the channel hides its subscriber count (never a demo channel)."""
    return account.handle not in _DEMO_HANDLES and unit("hidden", account.handle) < HIDDEN_SHARE


def round_subscribers(count: int) -> int:
    """Rounded down to three significant figures from 1,000 up (1,783,744 → 1,780,000)."""
    if count < 1000:
        return count
    step = int(10 ** (len(str(count)) - 3))
    return count // step * step


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    figures = {"views": float(source.views(account, at)), "videos": float(source.posts(account, at))}
    if not subscribers_hidden(account):
        figures = {"subscribers": float(round_subscribers(source.followers(account, at))), **figures}
    return figures


PROFILE = PlatformProfile(
    demo_accounts=DEMO_ACCOUNTS,
    generated_handle=lambda number: f"@simchannel{number:04d}",
    generated_label="Sim Channel",
    derived_id=derived_id,
    figures=_figures,
)
