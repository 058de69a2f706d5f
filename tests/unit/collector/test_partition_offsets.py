"""Commands finish in any order; a partition's committable offset only ever covers a run of
finished commands from the oldest one taken."""

from hypothesis import given
from hypothesis import strategies as st

from sma_collector.consumer_loop import PartitionOffsets


def test_out_of_order_finishes_commit_only_the_finished_prefix() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12, 13):
        offsets.take(offset)
    offsets.finish(12)
    assert offsets.committable is None  # 10 and 11 are still running
    offsets.finish(10)
    assert offsets.committable == 11
    offsets.finish(11)
    assert offsets.committable == 13  # 10, 11, 12 done; 13 still running
    assert len(offsets) == 1
    offsets.finish(13)
    assert offsets.committable == 14 and len(offsets) == 0


def test_an_offset_finished_twice_or_never_taken_changes_nothing() -> None:
    offsets = PartitionOffsets()
    offsets.take(5)
    offsets.finish(7)
    assert offsets.committable is None
    offsets.finish(5)
    offsets.finish(5)
    assert offsets.committable == 6


@given(st.permutations(list(range(20))), st.integers(min_value=0, max_value=20))
def test_the_committable_offset_never_passes_an_unfinished_command(order: list[int], finished: int) -> None:
    offsets = PartitionOffsets()
    for offset in range(20):
        offsets.take(offset)
    done = set(order[:finished])
    for offset in order[:finished]:
        offsets.finish(offset)
    prefix = next((o for o in range(20) if o not in done), 20)
    assert offsets.committable == (prefix if prefix > 0 else None)
