"""The gateway's in-process tier: hot cached values kept in this process's memory, so a hit costs
no Redis round trip. Bounded by bytes (least recently used first out) and by a TTL.

Coherence across replicas comes from `sma_gateway.coherence`: every write to an account is
published on Redis pub/sub, and the subscriber drops that account's entries here. A value may
only enter the tier when nothing about its account changed while it was being read
(`Generation`), and the whole tier is dropped whenever the subscription is (re)established or
lost, since messages may have been missed in between.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Accounts whose invalidations are remembered (one small int each) before the tier starts over.
_MAX_TRACKED_ACCOUNTS = 200_000


@dataclass(frozen=True, slots=True)
class LocalEntry:
    value: bytes
    etag: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Generation:
    """What a reader saw before it started loading: `store` refuses the value if either moved."""

    epoch: int
    account: int


class LocalTier:
    def __init__(
        self, max_bytes: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[int, str], LocalEntry] = OrderedDict()
        self._by_account: dict[int, set[str]] = {}
        self._account_generation: dict[int, int] = {}
        self._epoch = 0
        self._bytes = 0
        self.enabled = False  # only while the invalidation subscription is live

    def get(self, account_id: int, variant: str) -> LocalEntry | None:
        if not self.enabled:
            return None
        key = (account_id, variant)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def generation(self, account_id: int) -> Generation:
        return Generation(self._epoch, self._account_generation.get(account_id, 0))

    def store(self, account_id: int, variant: str, value: bytes, etag: str, seen: Generation) -> None:
        if not self.enabled or seen != self.generation(account_id) or len(value) > self._max_bytes // 8:
            return  # disabled, invalidated while loading, or too large to be worth a slot
        key = (account_id, variant)
        if key in self._entries:
            self._remove(key)
        self._entries[key] = LocalEntry(value, etag, self._clock() + self._ttl)
        self._by_account.setdefault(account_id, set()).add(variant)
        self._bytes += len(value)
        while self._bytes > self._max_bytes and self._entries:
            self._remove(next(iter(self._entries)))

    def drop_account(self, account_id: int) -> None:
        if len(self._account_generation) >= _MAX_TRACKED_ACCOUNTS:
            self.reset(enabled=self.enabled)  # bounds memory; a full reset is always safe
        self._account_generation[account_id] = self._account_generation.get(account_id, 0) + 1
        for variant in self._by_account.pop(account_id, set()):
            entry = self._entries.pop((account_id, variant), None)
            if entry is not None:
                self._bytes -= len(entry.value)

    def reset(self, *, enabled: bool) -> None:
        """Forget everything (the subscription came up or went down) and enable or disable the tier."""
        self._entries.clear()
        self._by_account.clear()
        self._account_generation.clear()
        self._epoch += 1
        self._bytes = 0
        self.enabled = enabled

    def _remove(self, key: tuple[int, str]) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.value)
        variants = self._by_account.get(key[0])
        if variants is not None:
            variants.discard(key[1])
            if not variants:
                del self._by_account[key[0]]

    def details(self) -> dict[str, object]:
        return {"enabled": self.enabled, "entries": len(self._entries), "bytes": self._bytes}
