"""When each operation is due: a pure function of the intervals, the last starts and the clock."""

from __future__ import annotations

from collections.abc import Mapping

# The order the service runs due operations in within one pass (as `full`, plus vacuum).
TASKS = ("partitions", "rollups", "cleanup", "compact", "analyze", "vacuum", "stats", "check")


def due_tasks(intervals: Mapping[str, float], last_started: Mapping[str, float], now: float) -> list[str]:
    """The tasks, in `TASKS` order, whose interval has passed since they last started. A task that
    never ran is due at once; an interval of 0 (or none) switches the task off. A failed run
    counts as a start, so it is tried again one interval later."""
    due = []
    for task in TASKS:
        interval = intervals.get(task, 0)
        if interval <= 0:
            continue
        last = last_started.get(task)
        if last is None or now - last >= interval:
            due.append(task)
    return due
