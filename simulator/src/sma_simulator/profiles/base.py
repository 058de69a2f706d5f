"""What a simulated platform's world looks like: its demo accounts, how its generated handles
and immutable ids are spelled, and which figures it serves.

A profile only describes; `sma_simulator.state.World` builds the accounts and computes the
figures from the generic series it offers (`FigureSource`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sma_common.platforms import Platform


@dataclass(frozen=True, slots=True)
class SimAccount:
    platform: Platform
    id: str
    handle: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LiveStream:
    id: str
    started_at: datetime
    viewers: int
    game_name: str
    title: str


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A named account every world has; `known_id` keeps a real account's real id."""

    handle: str
    display_name: str
    known_id: str | None = None


class FigureSource(Protocol):
    """The deterministic series a profile composes into its platform's figures."""

    def followers(self, account: SimAccount, at: datetime) -> int: ...

    def following(self, account: SimAccount, at: datetime) -> int: ...

    def posts(self, account: SimAccount, at: datetime) -> int: ...

    def views(self, account: SimAccount, at: datetime) -> int: ...

    def stream(self, account: SimAccount, at: datetime) -> LiveStream | None: ...


Figures = Callable[[FigureSource, SimAccount, datetime], dict[str, float]]


@dataclass(frozen=True, slots=True)
class PlatformProfile:
    """One platform's shape of the simulated world.

    Attributes:
        demo_accounts: named accounts, listed first in this order.
        generated_handle: the handle of generated account number n (1-based).
        generated_label: display names of generated accounts are `<label> <nnnn>`.
        derived_id: the immutable id of an account from its handle (never from the seed).
        figures: the figures a correct client reads, under the contract's metric names.
    """

    demo_accounts: tuple[DemoAccount, ...]
    generated_handle: Callable[[int], str]
    generated_label: str
    derived_id: Callable[[str], str]
    figures: Figures


def unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (never Python's salted `hash`)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
