"""Bluesky's world: did:plc ids, `sim-nnnn.bsky.social` handles, followers/following/posts."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from sma_simulator.profiles.base import DemoAccount, FigureSource, PlatformProfile, SimAccount


def _derived_id(handle: str) -> str:
    digest = hashlib.blake2b(f"did:{handle}".encode(), digest_size=15).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def _figures(source: FigureSource, account: SimAccount, at: datetime) -> dict[str, float]:
    return {
        "followers": float(source.followers(account, at)),
        "following": float(source.following(account, at)),
        "posts": float(source.posts(account, at)),
    }


PROFILE = PlatformProfile(
    demo_accounts=(
        DemoAccount("bsky.app", "Bluesky", known_id="did:plc:z72i7hdynmk6r22z27h6tvur"),
        DemoAccount("sma-demo.bsky.social", "SMA Demo"),
        DemoAccount("sma-news.bsky.social", "SMA News"),
    ),
    generated_handle=lambda number: f"sim-{number:04d}.bsky.social",
    generated_label="Sim",
    derived_id=_derived_id,
    figures=_figures,
)
