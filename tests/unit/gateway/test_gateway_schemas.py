from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest
from pydantic import ValidationError

from sma_common.platforms import EXECUTION_STATUSES, Platform
from sma_gateway.schemas import ExecutionStatus, JobCreate, JobListQuery, JobUpdate, MetricsQuery


def error_fields(exc: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in exc.errors()]


def test_execution_statuses_match_the_schema_contract() -> None:
    assert get_args(ExecutionStatus) == EXECUTION_STATUSES


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"platform": "twitch", "account": "a", "interval_minutes": 0}, ["interval_minutes"]),
        ({"platform": "twitch", "account": "a", "interval_minutes": 10081}, ["interval_minutes"]),
        ({"platform": "twitch", "account": "a", "interval_minutes": "15"}, ["interval_minutes"]),
        ({"platform": "twitch", "account": "a", "interval_minutes": True}, ["interval_minutes"]),
        ({"platform": "myspace", "account": "a"}, ["platform"]),
        ({"platform": "twitch", "account": "   "}, ["account"]),
        ({"platform": "twitch"}, ["account"]),
        ({"platform": "twitch", "account": "a", "extra": 1}, ["extra"]),
    ],
)
def test_job_create_rejects(body: dict[str, object], fields: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        JobCreate.model_validate(body)
    assert error_fields(caught.value) == fields


def test_job_create_defaults_and_trims() -> None:
    job = JobCreate.model_validate({"platform": "bluesky", "account": "  alice.bsky.social "})
    assert job == JobCreate(platform=Platform.BLUESKY, account="alice.bsky.social", interval_minutes=15)


@pytest.mark.parametrize(
    "body", [{"interval_minutes": 120}, {"status": "paused"}, {"status": "active", "interval_minutes": 1}]
)
def test_job_update_accepts_partial_bodies(body: dict[str, object]) -> None:
    update = JobUpdate.model_validate(body)
    assert update.model_dump(exclude_none=True) == body


@pytest.mark.parametrize("body", [{}, {"interval_minutes": None}, {"status": "stopped"}, {"name": "x"}])
def test_job_update_rejects(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobUpdate.model_validate(body)


def test_list_query_ignores_unknown_parameters_and_parses_strings() -> None:
    query = JobListQuery.model_validate({"platform": "x", "limit": "20", "utm_source": "mail"})
    assert (query.platform, query.limit, query.status) == (Platform.X, 20, None)


def test_metrics_query_parses_range_and_defaults() -> None:
    query = MetricsQuery.model_validate({"metric": "followers", "from": "2026-01-01T00:00:00Z"})
    assert query.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert (query.end, query.resolution, query.limit) == (None, "raw", None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),  # naive means UTC
        ("2026-01-01T12:00:00+02:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T12:00:00 02:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),  # unencoded '+'
        ("2026-01-01T12:00:00.5 02:00", datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_metrics_query_normalises_times_to_utc(raw: str, expected: datetime) -> None:
    start = MetricsQuery.model_validate({"metric": "followers", "from": raw}).start
    assert start == expected and start is not None and start.tzinfo == UTC


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "likes"}, "metric"),
        ({}, "metric"),
        ({"metric": "followers", "resolution": "week"}, "resolution"),
        ({"metric": "followers", "from": "last tuesday"}, "from"),
        ({"metric": "followers", "limit": "0"}, "limit"),
    ],
)
def test_metrics_query_rejects(params: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MetricsQuery.model_validate(params)
    assert error_fields(caught.value) == [field]


def test_metrics_query_rejects_a_reversed_range() -> None:
    later = datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValidationError, match="'from' must be before 'to'"):
        MetricsQuery.model_validate({"metric": "posts", "from": later.isoformat(), "to": "2026-01-01T00:00:00Z"})
