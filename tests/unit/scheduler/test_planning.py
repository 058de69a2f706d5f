import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sma_common.platforms import Platform
from sma_scheduler.planning import DueJob, next_run_after, plan_commands

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def job(platform: Platform, due: datetime = NOW, interval: int = 15) -> DueJob:
    return DueJob(uuid.uuid4(), 1, platform, "123", "name", interval, due)


@pytest.mark.parametrize(
    ("due_at", "interval", "expected"),
    [
        (NOW, 15, NOW + timedelta(minutes=15)),  # on time
        (NOW - timedelta(minutes=5), 15, NOW + timedelta(minutes=10)),  # a bit late: keeps its phase
        (NOW - timedelta(minutes=15), 15, NOW + timedelta(minutes=15)),  # exactly one interval late
        (NOW - timedelta(hours=10, minutes=1), 60, NOW + timedelta(minutes=59)),  # 10 missed: runs once
        (NOW + timedelta(minutes=1), 15, NOW + timedelta(minutes=16)),  # run-now before its slot
    ],
)
def test_next_run_after(due_at: datetime, interval: int, expected: datetime) -> None:
    assert next_run_after(due_at, interval, NOW) == expected


def test_commands_batch_per_platform_up_to_batch_size() -> None:
    due = [job(Platform.TWITCH) for _ in range(250)] + [job(Platform.BLUESKY) for _ in range(30)]
    plan = plan_commands(due, NOW, timedelta(minutes=5))
    sizes = sorted((c.platform.value, len(c.items)) for c in plan.commands)
    assert sizes == [("bluesky", 5), ("bluesky", 25), ("twitch", 50), ("twitch", 100), ("twitch", 100)]
    assert {i.job_id for c in plan.commands for i in c.items} == {j.job_id for j in due}
    assert set(plan.next_runs) == {j.job_id for j in due}
    assert all(c.scheduled_for == NOW and c.deadline == NOW + timedelta(minutes=5) for c in plan.commands)


def test_command_ids_are_deterministic() -> None:
    due = [job(Platform.TWITCH) for _ in range(3)]
    first = plan_commands(due, NOW, timedelta(minutes=5)).commands
    again = plan_commands(list(reversed(due)), NOW, timedelta(minutes=5)).commands
    later = plan_commands(due, NOW + timedelta(seconds=1), timedelta(minutes=5)).commands
    assert first[0].command_id == again[0].command_id
    assert first[0].command_id != later[0].command_id


def test_nothing_due_plans_nothing() -> None:
    plan = plan_commands([], NOW, timedelta(minutes=5))
    assert plan.commands == () and plan.next_runs == {}


def test_mastodon_commands_hold_one_instance_and_reddit_commands_one_kind() -> None:
    def on(platform: Platform, external_id: str) -> DueJob:
        return DueJob(uuid.uuid4(), 1, platform, external_id, "name", 15, NOW)

    due = [on(Platform.MASTODON, f"{instance}:{n}") for n in range(50)
           for instance in ("mastodon.social", "Legacy.Example")]
    due += [on(Platform.REDDIT, f"{kind}_{n}") for n in range(30) for kind in ("t5", "t2")]
    plan = plan_commands(due, NOW, timedelta(minutes=5))
    groups = sorted(
        (c.platform.value, {i.external_id.split(":")[0].split("_")[0].lower() for i in c.items}.pop(), len(c.items))
        for c in plan.commands
        if len({i.external_id.split(":")[0].split("_")[0].lower() for i in c.items}) == 1
    )
    assert len(groups) == len(plan.commands)  # no command mixes instances or kinds
    assert groups == [("mastodon", "legacy.example", 10), ("mastodon", "legacy.example", 40),
                      ("mastodon", "mastodon.social", 10), ("mastodon", "mastodon.social", 40),
                      ("reddit", "t2", 30), ("reddit", "t5", 30)]


def test_a_live_account_is_polled_at_its_live_interval() -> None:
    live = DueJob(uuid.uuid4(), 1, Platform.TWITCH, "1", "a", 60, NOW, live_interval_minutes=5, is_live=True)
    offline = DueJob(uuid.uuid4(), 2, Platform.TWITCH, "2", "b", 60, NOW, live_interval_minutes=5, is_live=False)
    plain = DueJob(uuid.uuid4(), 3, Platform.TWITCH, "3", "c", 60, NOW, is_live=True)
    plan = plan_commands([live, offline, plain], NOW, timedelta(minutes=5))
    assert plan.next_runs[live.job_id] == NOW + timedelta(minutes=5)
    assert plan.next_runs[offline.job_id] == NOW + timedelta(minutes=60)
    assert plan.next_runs[plain.job_id] == NOW + timedelta(minutes=60)
