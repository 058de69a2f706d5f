"""The closed-loop load test behind `sma profile --load-test`.

Each of N virtual users sends one request, waits for the whole answer, then sends the next, over
the endpoint mix in turn (each user starting at a different endpoint), until the duration is up;
requests in flight at the end are waited for and counted. A 429 makes that user wait the
`Retry-After` the gateway asked for (bounded by the time left), as a well-behaved client would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from sma_cli.latency import Endpoint, Tally, percentile, timed_get


@dataclass
class LoadResult:
    duration_seconds: float
    users: int
    total: Tally = field(default_factory=Tally)
    by_endpoint: dict[str, Tally] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def requests_per_second(self) -> float:
        return self.total.requests / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def live_figures(self, now: float, started: float) -> str:
        """One line for the live display while the test runs."""
        elapsed = max(now - started, 1e-9)
        recent = sorted(self.total.latencies[-2000:])  # the last requests, cheap enough at 4 Hz
        return (f"{self.total.requests} requests, {self.total.requests / elapsed:.0f} req/s, "
                f"p50 {percentile(recent, 0.5) * 1000:.1f} ms, p99 {percentile(recent, 0.99) * 1000:.1f} ms, "
                f"errors {self.total.errors}, throttled {self.total.throttled}")


async def run_load(
    session: aiohttp.ClientSession, base_url: str, headers: dict[str, str], endpoints: list[Endpoint],
    *, duration: float, users: int, on_tick: Callable[[LoadResult, float], None] | None = None,
) -> LoadResult:
    result = LoadResult(duration, users, by_endpoint={e.name: Tally() for e in endpoints})
    started = time.perf_counter()
    deadline = started + duration

    async def user(index: int) -> None:
        turn = index
        while time.perf_counter() < deadline:
            endpoint = endpoints[turn % len(endpoints)]
            turn += 1
            outcome = await timed_get(session, base_url + endpoint.path, headers)
            result.total.add(outcome)
            result.by_endpoint[endpoint.name].add(outcome)
            if outcome.throttled:
                await asyncio.sleep(min(outcome.retry_after, max(0.0, deadline - time.perf_counter())))
            elif outcome.status is None:
                await asyncio.sleep(0.05)  # refused at once: do not spin on a dead gateway

    async def ticker() -> None:
        while True:
            if on_tick is not None:
                on_tick(result, time.perf_counter() - started)
            await asyncio.sleep(0.25)

    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(user(i) for i in range(users)))
    finally:
        ticking.cancel()
    result.elapsed_seconds = time.perf_counter() - started
    if on_tick is not None:
        on_tick(result, result.elapsed_seconds)
    return result
