"""The scheduler benchmark's view of the commands topic: every fetch command the scheduler
produces, read by the benchmark's own consumer, turned into exact dispatch lags and burst drains."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from harness import COMMANDS_TOPIC

from sma_common.messages import FetchCommand, decode_command


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank of a sorted list."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"jobs": len(ordered), "p50": _round(percentile(ordered, 0.5)), "p90": _round(percentile(ordered, 0.9)),
            "p99": _round(percentile(ordered, 0.99)), "max": _round(ordered[-1] if ordered else None)}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


class Dispatches:
    """Every fetch command the scheduler produces, read by the benchmark's own consumer (no group,
    from the end of the topic): the exact lag of each job due in the window, and the burst's drain."""

    def __init__(self, kafka: str) -> None:
        self._kafka = kafka
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.due: dict[int, float] = {}  # job id (as int) → seeded next_run_at (Unix seconds)
        self.window = (math.inf, -math.inf)
        self.lags: list[tuple[float, float, float]] = []  # (due, tick lag, delivery lag)
        self._seen: set[int] = set()
        self.items = self.commands = self.unknown = self.redispatched = 0
        self._dispatched: set[int] = set()
        self.burst_left: set[int] = set()
        self.burst_first_tick: float | None = None
        self.burst_last_received: float | None = None
        self.burst_commands = 0
        self.burst_done = asyncio.Event()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            COMMANDS_TOPIC, bootstrap_servers=self._kafka, group_id=None, enable_auto_commit=False,
            auto_offset_reset="latest", fetch_max_wait_ms=50, max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no partitions of {COMMANDS_TOPIC} assigned")
            await asyncio.sleep(0.1)
        for tp in consumer.assignment():
            await consumer.position(tp)  # resolve "latest" now, before anything is produced
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def check(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.result()  # re-raise what stopped the consumer

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=10_000)
            received = time.time()
            for records in batches.values():
                for record in records:
                    self._record(decode_command(record.value), received)

    def _record(self, command: FetchCommand, received: float) -> None:
        tick = command.scheduled_for.timestamp()
        self.commands += 1
        start, end = self.window
        in_burst = False
        for item in command.items:
            key = item.job_id.int
            self.items += 1
            if key in self.burst_left:
                in_burst = True
                self.burst_left.discard(key)
                if not self.burst_left:
                    self.burst_last_received = received
                    self.burst_done.set()
                continue
            if key in self._dispatched:
                self.redispatched += 1  # e.g. rate limited: the collector moved it to its budget's reset
            self._dispatched.add(key)
            due = self.due.get(key)
            if due is None:
                self.unknown += 1
            elif start <= due < end and key not in self._seen:
                self._seen.add(key)
                self.lags.append((due, tick - due, received - due))
        if in_burst:
            self.burst_commands += 1
            self.burst_first_tick = tick if self.burst_first_tick is None else min(self.burst_first_tick, tick)

    def undispatched(self, now: float) -> list[float]:
        """Lags so far of the jobs due in the window that were never dispatched."""
        start, end = self.window
        return [now - due for key, due in self.due.items() if start <= due < end and key not in self._seen]

    def start_burst(self, job_ids: list[uuid.UUID]) -> None:
        self.burst_left = {j.int for j in job_ids}
        self.burst_first_tick = self.burst_last_received = None
        self.burst_commands = 0
        self.burst_done.clear()
