"""Pure planning: due jobs and the time → fetch commands (batched per platform and batch group) and the next
run of every job. No I/O here; the tick feeds it claimed rows and acts on the plan."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sma_common.messages import FetchCommand, FetchItem, command_id_for
from sma_common.platforms import MAX_BATCH_SIZE, Platform, batch_group


@dataclass(frozen=True, slots=True)
class DueJob:
    job_id: uuid.UUID
    account_id: int
    platform: Platform
    external_id: str
    handle: str
    interval_minutes: int
    next_run_at: datetime
    live_interval_minutes: int | None = None
    is_live: bool = False

    @property
    def cadence_minutes(self) -> int:
        """The interval in force: the live one while the account is live (adaptive polling)."""
        if self.is_live and self.live_interval_minutes is not None:
            return self.live_interval_minutes
        return self.interval_minutes


@dataclass(frozen=True, slots=True)
class Plan:
    commands: tuple[FetchCommand, ...]
    next_runs: dict[uuid.UUID, datetime]


def next_run_after(due_at: datetime, interval_minutes: int, now: datetime) -> datetime:
    """The first slot of the job's cadence after `now`: a job overdue by many intervals runs
    once now, then keeps its phase instead of running once per missed interval."""
    interval = timedelta(minutes=interval_minutes)
    if due_at > now:
        return due_at + interval
    missed = math.floor((now - due_at) / interval) + 1
    return due_at + missed * interval


def plan_commands(
    due: Sequence[DueJob],
    now: datetime,
    deadline: timedelta,
    batch_sizes: dict[Platform, int] = MAX_BATCH_SIZE,
) -> Plan:
    # One command per platform and batch group (a Mastodon instance, Reddit subreddits or
    # users): a full command is then one full API call.
    by_group: dict[tuple[Platform, str], list[DueJob]] = defaultdict(list)
    for job in due:
        by_group[(job.platform, batch_group(job.platform, job.external_id))].append(job)
    commands: list[FetchCommand] = []
    for (platform, _), jobs in sorted(by_group.items()):
        size = batch_sizes[platform]
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            commands.append(FetchCommand(
                command_id=command_id_for(platform, [j.job_id for j in chunk], now),
                platform=platform,
                items=tuple(
                    FetchItem(job_id=j.job_id, account_id=j.account_id, external_id=j.external_id, handle=j.handle)
                    for j in chunk
                ),
                scheduled_for=now,
                deadline=now + deadline,
            ))
    next_runs = {j.job_id: next_run_after(j.next_run_at, j.cadence_minutes, now) for j in due}
    return Plan(tuple(commands), next_runs)
