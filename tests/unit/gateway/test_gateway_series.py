from datetime import UTC, datetime, timedelta

import pytest

from sma_gateway.problem import ProblemError
from sma_gateway.series import DEFAULT_RANGE, SeriesRequest, cache_variant, pack, resolve_range, unpack

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_range_defaults_to_the_last_week() -> None:
    assert resolve_range(None, None, NOW) == (NOW - DEFAULT_RANGE, NOW)
    end = NOW - timedelta(days=1)
    assert resolve_range(None, end, NOW) == (end - DEFAULT_RANGE, end)
    start = NOW - timedelta(hours=1)
    assert resolve_range(start, None, NOW) == (start, NOW)


def test_a_start_after_the_default_end_is_422() -> None:
    with pytest.raises(ProblemError) as caught:
        resolve_range(NOW + timedelta(hours=1), None, NOW)
    assert caught.value.status == 422 and caught.value.errors[0].name == "from"


def test_variant_names_the_query_not_the_clock() -> None:
    request = SeriesRequest(1, "followers", "hour", None, None, 100)
    assert cache_variant(request) == cache_variant(SeriesRequest(1, "followers", "hour", None, None, 100))
    explicit = SeriesRequest(1, "followers", "hour", NOW - timedelta(days=7), NOW, 100)
    distinct = {
        cache_variant(request), cache_variant(explicit),
        cache_variant(SeriesRequest(1, "followers", "day", None, None, 100)),
        cache_variant(SeriesRequest(1, "posts", "hour", None, None, 100)),
        cache_variant(SeriesRequest(1, "followers", "hour", None, None, 10)),
    }
    assert len(distinct) == 5


@pytest.mark.parametrize("next_start", [None, NOW])
def test_pack_round_trips(next_start: datetime | None) -> None:
    body = b'[{"ts":"2026-05-01T12:00:00Z","value":1.0}]\n'
    assert unpack(pack(next_start, body)) == (next_start, body)
