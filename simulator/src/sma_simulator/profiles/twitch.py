"""Twitch's world: numeric user ids, `sim_user_nnnn` logins, followers plus live state."""

from __future__ import annotations

from datetime import datetime

from sma_common.platforms import Platform
from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount, unit


def _derived_id(handle: str) -> str:
    return str(100_000_000 + int(unit("id", Platform.TWITCH, handle) * 899_999_999))


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    stream = source.stream(account, at)
    figures = {"followers": float(source.followers(account, at)), "is_live": 1.0 if stream else 0.0}
    if stream is not None:
        figures["live_viewers"] = float(stream.viewers)
    return figures


PROFILE = PlatformProfile(
    demo_accounts=(
        DemoAccount("twitchdev", "TwitchDev", known_id="141981764"),
        DemoAccount("sma_demo_speedrun", "SMA Demo Speedrun"),
        DemoAccount("sma_demo_music", "SMA Demo Music"),
    ),
    generated_handle=lambda number: f"sim_user_{number:04d}",
    generated_label="Sim User",
    derived_id=_derived_id,
    figures=_figures,
)
