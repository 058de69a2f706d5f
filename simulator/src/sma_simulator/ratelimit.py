"""The simulated platforms' rate budgets, driven by the injected clock.

`TokenBucket` is Twitch's model: a bucket per client id that refills continuously to its
capacity over a window (800 points a minute); its reset is when the bucket is full again.
`FixedWindow` is the AT Protocol's: a count per caller per fixed window (3000 per 300 s),
reset at the window's end. `DailyQuota` is YouTube's: units per caller per Pacific calendar
day, reset at midnight America/Los_Angeles, with no headers at all. All remember a bounded
number of callers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_CALLERS = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True, slots=True)
class Budget:
    """One answer from a limiter: was the call allowed, and what the headers should say."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int


class TokenBucket:
    def __init__(self, capacity: int, window_seconds: float) -> None:
        self.capacity = capacity
        self._rate = capacity / window_seconds
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: datetime, cost: int = 1) -> Budget:
        return self._settle(key, now.timestamp(), cost)

    def peek(self, key: str, now: datetime) -> Budget:
        return self._settle(key, now.timestamp(), 0)

    def _settle(self, key: str, t: float, cost: int) -> Budget:
        tokens, last = self._state.get(key, (float(self.capacity), t))
        tokens = min(float(self.capacity), tokens + max(0.0, t - last) * self._rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._remember(key, (tokens, t))
        reset = math.ceil(t + (self.capacity - tokens) / self._rate)
        return Budget(allowed, self.capacity, math.floor(tokens), reset)

    def _remember(self, key: str, value: tuple[float, float]) -> None:
        self._state[key] = value
        self._state.move_to_end(key)
        while len(self._state) > MAX_CALLERS:
            self._state.popitem(last=False)


class FixedWindow:
    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._state: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def take(self, key: str, now: datetime) -> Budget:
        return self._settle(key, now, 1)

    def peek(self, key: str, now: datetime) -> Budget:
        return self._settle(key, now, 0)

    def _settle(self, key: str, now: datetime, cost: int) -> Budget:
        window = math.floor(now.timestamp()) // self.window_seconds
        seen_window, used = self._state.get(key, (window, 0))
        if seen_window != window:
            used = 0
        allowed = used + cost <= self.limit
        if allowed:
            used += cost
        self._state[key] = (window, used)
        self._state.move_to_end(key)
        while len(self._state) > MAX_CALLERS:
            self._state.popitem(last=False)
        reset = (window + 1) * self.window_seconds
        return Budget(allowed, self.limit, self.limit - used, reset)


class DailyQuota:
    def __init__(self, units: int) -> None:
        self.units = units
        self._state: OrderedDict[str, tuple[date, int]] = OrderedDict()

    def take(self, key: str, now: datetime, cost: int = 1) -> Budget:
        day = now.astimezone(PACIFIC).date()
        seen_day, used = self._state.get(key, (day, 0))
        if seen_day != day:
            used = 0
        allowed = used + cost <= self.units
        if allowed:
            used += cost
        self._state[key] = (day, used)
        self._state.move_to_end(key)
        while len(self._state) > MAX_CALLERS:
            self._state.popitem(last=False)
        reset = datetime.combine(day + timedelta(days=1), time(), tzinfo=PACIFIC)
        return Budget(allowed, self.units, self.units - used, int(reset.timestamp()))
