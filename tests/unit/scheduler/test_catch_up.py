"""The catch-up pace: a late backlog drains within the window, at a rate kept while it drains."""

from datetime import UTC, datetime, timedelta

from sma_scheduler.pressure import CatchUp
from sma_scheduler.settings import SchedulerSettings

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def catch_up(window: float = 100, min_rate: float = 10) -> CatchUp:
    return CatchUp(SchedulerSettings(scheduler_catchup_window_seconds=window, scheduler_catchup_min_rate=min_rate))


def drain(pace: CatchUp, backlog: int, tick: float = 1.0) -> float:
    """Seconds until `backlog` late jobs are out, refreshing the backlog every tick."""
    now, elapsed = T0, 0.0
    while backlog > 0:
        pace.set_backlog(backlog)
        quota = pace.take(now, 100_000)
        out = min(backlog, quota)
        pace.give_back(quota - out)
        backlog -= out
        now += timedelta(seconds=tick)
        elapsed += tick
        assert elapsed < 10_000
    return elapsed


def test_a_backlog_drains_within_the_window_not_at_once() -> None:
    pace = catch_up(window=100)
    assert pace.take(T0, 1000) == 10  # nothing late yet: the floor
    took = drain(catch_up(window=100), 50_000)
    assert 95 <= took <= 101  # 500 a second, kept while the backlog shrinks


def test_a_small_backlog_goes_at_the_floor_rate_and_one_second_is_the_most_per_tick() -> None:
    pace = catch_up(window=100, min_rate=10)
    pace.set_backlog(25)
    assert pace.take(T0, 1000) == 10
    # A long pause between ticks is not paid back at once; the limit caps a tick.
    assert pace.take(T0 + timedelta(minutes=5), 1000) == 10
    assert pace.take(T0 + timedelta(minutes=6), 4) == 4


def test_the_pace_returns_to_the_floor_once_the_backlog_is_gone() -> None:
    pace = catch_up(window=10, min_rate=5)
    pace.set_backlog(1000)
    assert pace.take(T0, 1000) == 100
    pace.set_backlog(0)
    assert pace.take(T0 + timedelta(seconds=1), 1000) == 5


def test_two_tick_loops_share_one_pace() -> None:
    pace = catch_up(window=10, min_rate=5)
    pace.set_backlog(1000)
    first, second = pace.take(T0, 1000), pace.take(T0, 1000)
    assert first + second == 100  # reserved at once: the second loop gets what is left
    pace.give_back(30)  # the first claimed fewer late jobs than it reserved
    assert pace.take(T0, 1000) == 30
