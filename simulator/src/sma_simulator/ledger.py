"""What the simulator served: request counts and the observations it handed out, per platform.

Tests compare a client's results with this record; it is bounded (oldest observations are
dropped first) so a long demo cannot grow it without limit.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ServedObservation:
    account_id: str
    metric: str
    value: float
    ts: datetime

    def as_json(self) -> dict[str, object]:
        return {"account_id": self.account_id, "metric": self.metric, "value": self.value, "ts": self.ts.isoformat()}


class Ledger:
    def __init__(self, platforms: tuple[str, ...], max_observations: int) -> None:
        self._platforms = platforms
        self._max = max_observations
        self._requests: dict[str, Counter[str]] = {}
        self._observations: dict[str, deque[ServedObservation]] = {}
        self.clear()

    def count_request(self, platform: str, endpoint: str) -> None:
        self._requests[platform][endpoint] += 1

    def record(self, platform: str, account_id: str, figures: dict[str, float], ts: datetime) -> None:
        for metric, value in figures.items():
            self._observations[platform].append(ServedObservation(account_id, metric, value, ts))

    def observations(self, platform: str) -> list[ServedObservation]:
        return list(self._observations.get(platform, ()))

    def requests(self, platform: str, endpoint: str | None = None) -> int:
        counts = self._requests.get(platform, Counter())
        return counts[endpoint] if endpoint is not None else sum(counts.values())

    def as_json(self, platform: str | None = None) -> dict[str, object]:
        return {
            name: {
                "requests": self.requests(name),
                "requests_by_endpoint": dict(sorted(self._requests[name].items())),
                "observations": [o.as_json() for o in self._observations[name]],
            }
            for name in self._platforms
            if platform is None or name == platform
        }

    def clear(self) -> None:
        self._requests = {p: Counter() for p in self._platforms}
        self._observations = {p: deque(maxlen=self._max) for p in self._platforms}
