from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sma_simulator.faults import MAX_ACTIVE_FAULTS, FaultBook, FaultSpec
from sma_simulator.ledger import Ledger
from sma_simulator.ratelimit import Budget, FixedWindow, TokenBucket

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _spec(**fields: object) -> FaultSpec:
    return FaultSpec.model_validate({"platform": "twitch", "kind": "server_error", **fields})


def test_counted_fault_is_used_up_request_by_request() -> None:
    book = FaultBook()
    book.add(_spec(count=2), T0)
    assert book.take("twitch", "users", T0) is not None
    assert book.take("bluesky", "users", T0) is None
    assert book.take("twitch", "streams", T0) is not None
    assert book.take("twitch", "users", T0) is None


def test_fault_without_count_or_duration_lasts_one_request() -> None:
    book = FaultBook()
    book.add(_spec(), T0)
    assert book.take("twitch", "users", T0) is not None
    assert book.active(T0) == []


def test_timed_fault_expires_with_the_clock() -> None:
    book = FaultBook()
    book.add(_spec(duration_seconds=10), T0)
    for _ in range(5):
        assert book.take("twitch", "users", T0 + timedelta(seconds=9)) is not None
    assert book.take("twitch", "users", T0 + timedelta(seconds=10)) is None


def test_platform_wide_faults_spare_the_token_endpoint_unless_named() -> None:
    book = FaultBook()
    book.add(_spec(kind="unauthorized", count=5), T0)
    assert book.take("twitch", "oauth2/token", T0) is None
    book.clear()
    book.add(_spec(endpoint="oauth2/token"), T0)
    assert book.take("twitch", "users", T0) is None
    assert book.take("twitch", "oauth2/token", T0) is not None


def test_clear_by_platform_and_the_active_bound() -> None:
    book = FaultBook()
    book.add(_spec(count=3), T0)
    book.add(_spec(platform="bluesky", count=3), T0)
    assert book.clear("twitch") == 1
    assert [f.spec.platform for f in book.active(T0)] == ["bluesky"]
    for _ in range(MAX_ACTIVE_FAULTS - 1):
        book.add(_spec(count=1), T0)
    with pytest.raises(ValueError, match="at most"):
        book.add(_spec(count=1), T0)


@pytest.mark.parametrize(
    "fields",
    [{"kind": "explode"}, {"count": 0}, {"count": 1, "duration_seconds": 5}, {"status": 404}, {"surprise": 1}],
)
def test_fault_spec_validation(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _spec(**fields)


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(capacity=800, window_seconds=60)
    first = bucket.take("client", T0)
    assert first == Budget(True, 800, 799, int(T0.timestamp()) + 1)
    for _ in range(799):
        bucket.take("client", T0)
    empty = bucket.take("client", T0)
    assert (empty.allowed, empty.remaining, empty.reset_epoch) == (False, 0, int(T0.timestamp()) + 60)
    assert bucket.peek("other", T0).remaining == 800
    assert bucket.take("client", T0 + timedelta(seconds=3)).remaining == 39


def test_fixed_window_resets_at_the_window_end() -> None:
    window = FixedWindow(limit=2, window_seconds=300)
    at = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    reset = int(datetime(2026, 3, 1, 12, 5, tzinfo=UTC).timestamp())
    assert window.take("1.2.3.4", at) == Budget(True, 2, 1, reset)
    assert window.take("1.2.3.4", at) == Budget(True, 2, 0, reset)
    assert window.take("1.2.3.4", at) == Budget(False, 2, 0, reset)
    assert window.take("1.2.3.4", at + timedelta(minutes=4)).allowed


def test_ledger_is_bounded_per_platform() -> None:
    ledger = Ledger(("twitch", "bluesky"), max_observations=3)
    ledger.count_request("twitch", "users")
    ledger.record("twitch", "1", {"followers": 1.0, "is_live": 0.0}, T0)
    ledger.record("twitch", "2", {"followers": 2.0, "is_live": 1.0}, T0)
    assert [(o.account_id, o.metric) for o in ledger.observations("twitch")] == [
        ("1", "is_live"), ("2", "followers"), ("2", "is_live")]
    assert ledger.requests("twitch") == 1 and ledger.requests("bluesky") == 0
    assert set(ledger.as_json("bluesky")) == {"bluesky"}
    ledger.clear()
    assert ledger.observations("twitch") == []
