"""The storage benchmark's data and its timed ingest: points for many accounts at a fixed
interval, each tick (one point per account) written either by the collector's write path or by
plain COPY, alternately, into the same partitioned table, so both see the same table state."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from sma_collector.repository import POINT_COLUMNS, Point, write_points

FOLLOWERS = 1  # metric id


@dataclass(frozen=True)
class Plan:
    """`ticks` ticks `interval` apart ending now, one point per account each; the probe accounts
    (ids after the others) have a point every `interval` for a whole year instead."""

    accounts: int
    ticks: int
    interval: timedelta
    probes: int
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def for_points(cls, points: int, accounts: int, interval_minutes: int, probes: int) -> Plan:
        return cls(accounts, math.ceil(points / accounts), timedelta(minutes=interval_minutes), probes)

    @property
    def start(self) -> datetime:
        return self.now - self.ticks * self.interval

    @property
    def probe_ids(self) -> range:
        return range(self.accounts + 1, self.accounts + 1 + self.probes)

    @property
    def first_day(self) -> datetime:
        return min(self.start, self.now - timedelta(days=366))


def tick_points(accounts: range, at: datetime, tick: int) -> list[Point]:
    """One point per account: observed a few microseconds apart (as commands are), a follower
    count growing at the account's own pace."""
    return [(a, FOLLOWERS, at + timedelta(microseconds=37 * a), float(1000 * a + tick * (a % 7))) for a in accounts]


async def ensure_partitions(conn: asyncpg.Connection, plan: Plan) -> None:
    days = (plan.now.date() - plan.first_day.date()).days + 2
    await conn.execute("SELECT sma_ensure_daily_partitions('metric_points', $1, $2)", plan.first_day.date(), days)


async def load_probes(conn: asyncpg.Connection, plan: Plan) -> int:
    """A year of points for the probe accounts (untimed, by COPY)."""
    total, at, tick = 0, plan.now - timedelta(days=365), 0
    while at < plan.now:
        batch: list[Point] = []
        for _ in range(500):
            if at >= plan.now:
                break
            batch += tick_points(plan.probe_ids, at, tick)
            at, tick = at + plan.interval, tick + 1
        await conn.copy_records_to_table("metric_points", records=batch, columns=POINT_COLUMNS)
        total += len(batch)
    return total


@dataclass
class Rates:
    points: dict[str, int] = field(default_factory=lambda: {"write_path": 0, "copy": 0})
    seconds: dict[str, float] = field(default_factory=lambda: {"write_path": 0.0, "copy": 0.0})

    def per_second(self, way: str) -> float:
        return self.points[way] / self.seconds[way] if self.seconds[way] else 0.0


async def ingest(conn: asyncpg.Connection, plan: Plan, advance: Callable[[int], None]) -> Rates:
    """Every tick of the plan: even ticks through the collector's `write_points` (in a
    transaction, as `record_commands` calls it), odd ones by plain COPY."""
    rates, accounts = Rates(), range(1, plan.accounts + 1)
    for tick in range(plan.ticks):
        batch = tick_points(accounts, plan.start + tick * plan.interval, tick)
        way = "write_path" if tick % 2 == 0 else "copy"
        started = time.perf_counter()
        if way == "write_path":
            async with conn.transaction():
                await write_points(conn, batch)
        else:
            await conn.copy_records_to_table("metric_points", records=batch, columns=POINT_COLUMNS)
        rates.seconds[way] += time.perf_counter() - started
        rates.points[way] += len(batch)
        advance(len(batch))
    return rates


async def rewrite(conn: asyncpg.Connection, plan: Plan, ticks: int) -> float:
    """Points/s of the write path given points already stored (a redelivery): the last `ticks`
    ticks written again, each skipped through the ON CONFLICT DO NOTHING fallback."""
    accounts, started, points = range(1, plan.accounts + 1), time.perf_counter(), 0
    for tick in range(max(0, plan.ticks - ticks), plan.ticks):
        batch = tick_points(accounts, plan.start + tick * plan.interval, tick)
        async with conn.transaction():
            await write_points(conn, batch)
        points += len(batch)
    return points / (time.perf_counter() - started)
