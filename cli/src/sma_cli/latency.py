"""Timed requests against the gateway, and what `sma profile` reports about them.

One outcome per request: its HTTP status (None when the request never got an answer: refused,
reset, timed out), its latency and the `Retry-After` of a 429. A 429 is the API key's rate limit
doing its job, so it is counted apart ("throttled") and kept out of the error rate and the
latency percentiles; an error is any other answer of 400 or above, or no answer at all.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

THROTTLED = 429
NO_ANSWER = "no answer"


@dataclass(frozen=True)
class Endpoint:
    name: str  # the route template, e.g. "/api/accounts/{id}" (every request is a GET)
    path: str  # what is requested, ids filled in


@dataclass(frozen=True)
class Outcome:
    status: int | None
    seconds: float
    retry_after: float = 0.0
    error: str = ""

    @property
    def throttled(self) -> bool:
        return self.status == THROTTLED

    @property
    def failed(self) -> bool:
        return self.status is None or (self.status >= 400 and self.status != THROTTLED)


async def timed_get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Outcome:
    """GET `url` and read the whole body, timed; never raises for a failed request."""
    started = time.perf_counter()
    try:
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            await resp.read()
            retry_after = _seconds(resp.headers.get("Retry-After")) if resp.status == THROTTLED else 0.0
            return Outcome(resp.status, time.perf_counter() - started, retry_after)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome(None, time.perf_counter() - started, error=type(exc).__name__)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0  # an HTTP date instead of seconds: the gateway never sends one


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Tally:
    """Outcomes of one endpoint, or of a whole run."""

    latencies: list[float] = field(default_factory=list)  # answered and not throttled
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    throttled: int = 0

    def add(self, outcome: Outcome) -> None:
        self.statuses[str(outcome.status) if outcome.status is not None else NO_ANSWER] += 1
        if outcome.throttled:
            self.throttled += 1
            return
        self.errors += outcome.failed
        if outcome.status is not None:
            self.latencies.append(outcome.seconds)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def error_rate(self) -> float:
        counted = self.requests - self.throttled
        return self.errors / counted if counted else 0.0

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies)
        ms = {f"p{round(q * 100)}_ms": round(percentile(ordered, q) * 1000, 2) for q in (0.5, 0.95, 0.99)}
        return {
            "requests": self.requests, "errors": self.errors, "throttled": self.throttled,
            "error_rate": round(self.error_rate, 4), **ms,
            "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2) if ordered else 0.0,
            "max_ms": round(ordered[-1] * 1000, 2) if ordered else 0.0,
            "statuses": dict(sorted(self.statuses.items())),
        }
