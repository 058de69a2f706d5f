"""What the soak watches while it runs: a paced read load on the gateway (status and latency of
every request), each process's resident memory over time, and the lag gauges the services export.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import aiohttp
import psutil

# Reads a dashboard makes, weighted as one would expect: series most, then summaries and lists.
READS = (("series", 5), ("summary", 2), ("jobs", 1), ("accounts", 1), ("leaderboard", 1))


@dataclass
class GatewayLoad:
    """`rate` requests per second, spread evenly, each a read of a random soak account; at most
    `concurrency` in flight (a request the gateway holds longer than that delays the next)."""

    url: str
    token: str
    account_ids: list[int]
    rate: float
    concurrency: int = 64
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    five_xx: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def _path(self, rng: random.Random) -> str:
        kind = rng.choices([k for k, _ in READS], [w for _, w in READS])[0]
        account = rng.choice(self.account_ids)
        return {
            "series": f"/api/accounts/{account}/metrics?metric=followers",
            "summary": f"/api/accounts/{account}/summary",
            "jobs": f"/api/jobs?limit=50&account_id={account}",
            "accounts": "/api/accounts?limit=50",
            "leaderboard": "/api/leaderboard?metric=followers&period=day",
        }[kind]

    async def _one(self, http: aiohttp.ClientSession, path: str, slots: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            async with http.get(f"{self.url}{path}") as resp:
                await resp.read()
                self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
                if resp.status >= 500 and len(self.five_xx) < 20:
                    self.five_xx.append(f"{resp.status} {path}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
        finally:
            self.latencies.append(time.perf_counter() - started)
            slots.release()

    async def run(self, until: float) -> None:
        """Send until `time.monotonic()` reaches `until`, then wait for the requests in flight."""
        rng = random.Random(7)
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
            start, n = time.monotonic(), 0
            while (now := time.monotonic()) < until:
                due = start + n / self.rate
                if due > now:
                    await asyncio.sleep(due - now)
                await slots.acquire()
                task = asyncio.create_task(self._one(http, self._path(rng), slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            if tasks:
                await asyncio.gather(*tasks)

    def quantile_ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def tree_rss(pid: int) -> int | None:
    """Resident bytes of a process and its descendants (Postgres' backends, for one)."""
    try:
        root = psutil.Process(pid)
        total = root.memory_info().rss
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
    except psutil.NoSuchProcess:
        return None
    return int(total)


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) samples, per minute; None with fewer than three."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 60


@dataclass
class MemoryTrack:
    """RSS samples of one process (tree), in MB, with the time since the soak started."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def add(self, seconds: float, rss_bytes: int | None) -> None:
        if rss_bytes is not None:
            self.samples.append((seconds, rss_bytes / 1e6))

    def report(self, warmup_seconds: float) -> dict[str, float | None]:
        """RSS at the end of warm-up and at the end, the growth between, and the slope after
        warm-up (all of it, and its second half: growth that has not levelled off shows there)."""
        measured = [s for s in self.samples if s[0] >= warmup_seconds] or self.samples
        if not measured:
            return {"start_mb": None, "end_mb": None, "growth_mb": None, "slope_mb_per_min": None,
                    "late_slope_mb_per_min": None, "peak_mb": None}
        half = measured[0][0] + (measured[-1][0] - measured[0][0]) / 2
        slope, late = slope_per_minute(measured), slope_per_minute([s for s in measured if s[0] >= half])
        return {
            "start_mb": round(measured[0][1], 1), "end_mb": round(measured[-1][1], 1),
            "growth_mb": round(measured[-1][1] - measured[0][1], 1),
            "slope_mb_per_min": None if slope is None else round(slope, 3),
            "late_slope_mb_per_min": None if late is None else round(late, 3),
            "peak_mb": round(max(v for _, v in measured), 1),
        }
