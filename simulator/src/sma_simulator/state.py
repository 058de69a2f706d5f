"""The simulated world: deterministic fake accounts and how their figures evolve.

Which platforms exist, their named accounts, the spelling of generated handles and ids, and
which figures each serves come from the per-platform profiles in `sma_simulator.profiles`.

Every figure is a pure function of (seed, account, time truncated to the second), so a test
that knows the seed and the clock computes the exact value the simulator will serve:
`World(seed, n).metrics(account, at)` returns the observations under the contract's metric
names. Ids and handles do not depend on the seed (the demo seed names accounts by handle).

- followers: a per-account base plus a per-account hourly growth rate since `SIM_EPOCH`, plus
  a small noise that changes once a minute;
- following and posts (Bluesky; posts are YouTube's videos too): base plus slow growth, no noise;
- views (YouTube): a large base plus steady growth;
- Twitch live state: each channel streams on its own cycle of 3 to 10 minutes and is live for
  35-65% of it, so a demo sees channels go live and offline; viewers rise and fall during a
  stream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sma_common.platforms import Platform
from sma_simulator.profiles import PROFILES, LiveStream, PlatformProfile, SimAccount, unit

__all__ = [
    "GAMES", "SIMULATED_PLATFORMS", "SIM_EPOCH", "LiveStream", "SimAccount", "World", "derived_id",
    "generated_handle", "unit",
]

SIM_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_EPOCH_SECONDS = int(SIM_EPOCH.timestamp())
GAMES = ("Just Chatting", "Speedrunning", "Music", "Software and Game Development", "Retro", "Art")
SIMULATED_PLATFORMS = tuple(PROFILES)


def generated_handle(platform: Platform, number: int) -> str:
    return PROFILES[platform].generated_handle(number)


def derived_id(platform: Platform, handle: str) -> str:
    """The immutable id of a simulated account, spelled as the platform spells its ids."""
    return PROFILES[platform].derived_id(handle)


def _build_accounts(platform: Platform, profile: PlatformProfile, count: int) -> tuple[SimAccount, ...]:
    named = [(d.handle, d.known_id or profile.derived_id(d.handle), d.display_name) for d in profile.demo_accounts]
    for number in range(1, max(0, count - len(named)) + 1):
        handle = profile.generated_handle(number)
        named.append((handle, profile.derived_id(handle), f"{profile.generated_label} {number:04d}"))
    return tuple(
        SimAccount(platform, account_id, handle, name,
                   SIM_EPOCH - timedelta(days=int(30 + unit("created", handle) * 3000)))
        for handle, account_id, name in named
    )


class World:
    """The accounts of every simulated platform and their figures at any instant."""

    def __init__(
        self, seed: int, accounts_per_platform: int, profiles: Mapping[Platform, PlatformProfile] = PROFILES
    ) -> None:
        self.seed = seed
        self._profiles = dict(profiles)
        self._accounts = {p: _build_accounts(p, profile, accounts_per_platform) for p, profile in profiles.items()}
        self._by_id = {(a.platform, a.id): a for accounts in self._accounts.values() for a in accounts}
        self._by_handle = {(a.platform, a.handle): a for accounts in self._accounts.values() for a in accounts}
        if len(self._by_id) != sum(len(a) for a in self._accounts.values()):
            raise ValueError("simulated account ids collide; change the account count")

    def accounts(self, platform: Platform) -> tuple[SimAccount, ...]:
        return self._accounts.get(platform, ())

    def by_id(self, platform: Platform, account_id: str) -> SimAccount | None:
        return self._by_id.get((platform, account_id))

    def by_handle(self, platform: Platform, handle: str) -> SimAccount | None:
        return self._by_handle.get((platform, handle.lower()))

    def _u(self, account: SimAccount, what: str, *extra: object) -> float:
        return unit(self.seed, account.platform, account.id, what, *extra)

    def followers(self, account: SimAccount, at: datetime) -> int:
        second = _second(at)
        base = 50 + int(500_000 * self._u(account, "followers") ** 3)
        per_hour = 1 + 120 * self._u(account, "growth")
        amplitude = max(1, int(per_hour / 10))
        noise = round((2 * self._u(account, "noise", second // 60) - 1) * amplitude)
        return max(0, base + int(per_hour * (second - _EPOCH_SECONDS) / 3600) + noise)

    def following(self, account: SimAccount, at: datetime) -> int:
        base = 10 + int(2_000 * self._u(account, "following"))
        per_hour = 0.01 + 0.05 * self._u(account, "following-growth")
        return base + int(per_hour * (_second(at) - _EPOCH_SECONDS) / 3600)

    def posts(self, account: SimAccount, at: datetime) -> int:
        base = 20 + int(20_000 * self._u(account, "posts"))
        per_hour = 0.05 + 2 * self._u(account, "posts-growth")
        return base + int(per_hour * (_second(at) - _EPOCH_SECONDS) / 3600)

    def views(self, account: SimAccount, at: datetime) -> int:
        base = 1_000 + int(5_000_000_000 * self._u(account, "views") ** 4)
        per_hour = 5 + 20_000 * self._u(account, "views-growth")
        return base + int(per_hour * (_second(at) - _EPOCH_SECONDS) / 3600)

    def stream(self, account: SimAccount, at: datetime) -> LiveStream | None:
        """The channel's live stream at `at`, or None while it is offline."""
        second = _second(at)
        period = 180 + int(420 * self._u(account, "period"))
        live_for = int(period * (0.35 + 0.3 * self._u(account, "live-fraction")))
        shifted = second + int(period * self._u(account, "phase"))
        position, cycle = shifted % period, shifted // period
        if position >= live_for:
            return None
        peak = 5 + int(20_000 * self._u(account, "peak") ** 3)
        shape = 0.3 + 0.7 * math.sin(math.pi * position / live_for)
        jitter = 1 + 0.05 * (2 * self._u(account, "viewers", second // 15) - 1)
        game = GAMES[int(self._u(account, "game", cycle) * len(GAMES))]
        return LiveStream(
            id=str(40_000_000_000 + int(self._u(account, "stream", cycle) * 9_999_999_999)),
            started_at=datetime.fromtimestamp(second - position, UTC),
            viewers=max(0, int(peak * shape * jitter)),
            game_name=game,
            title=f"{account.display_name} plays {game} (stream {cycle % 1000})",
        )

    def metrics(self, account: SimAccount, at: datetime) -> dict[str, float]:
        """The figures a correct client reads at `at`, under the contract's metric names."""
        return self._profiles[account.platform].figures(self, account, at)

    def broadcaster_type(self, account: SimAccount) -> str:
        return ("", "affiliate", "partner")[int(unit("type", account.handle) * 3)]


def _second(at: datetime) -> int:
    return math.floor(at.timestamp())
