from datetime import UTC, datetime, timedelta

import pytest

from sma_gateway.csv_output import prefers_csv, render_csv
from sma_gateway.routes.summary import growth_rate
from sma_gateway.schemas import AccountOut, MetricBucket, MetricPoint
from sma_gateway.series import align

T = datetime(2026, 5, 1, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize(("accept", "csv"), [
    ("", False),
    ("text/csv", True),
    ("TEXT/CSV; charset=utf-8", True),
    ("application/json", False),
    ("*/*", False),
    ("text/*", True),
    ("text/csv;q=0", False),
    ("text/csv;q=0.4, application/json;q=0.5", False),
    ("text/csv;q=0.6, application/json;q=0.5", True),
    ("text/csv;q=0.5, */*;q=0.5", False),  # a tie is JSON
    ("text/csv;q=abc", False),
    ("application/json;q=0, text/*;q=0.1", True),
    ("image/png", False),
])
def test_accept_ranking(accept: str, csv: bool) -> None:
    assert prefers_csv(accept) is csv


def test_rows_with_header_empty_cells_and_defused_text() -> None:
    rows = [MetricPoint(ts=T, value=-5.0, rounded=False), MetricPoint(ts=T, value=1e20, rounded=True)]
    assert render_csv(MetricPoint, rows).decode().splitlines() == [
        "ts,value,rounded", "2026-05-01T12:34:56Z,-5.0,false", "2026-05-01T12:34:56Z,1e+20,true",
    ]
    assert render_csv(MetricBucket, []).decode() == "ts,value,rounded,min,max,first,last,count\r\n"


def test_text_cells_that_start_a_formula_get_an_apostrophe() -> None:
    row = AccountOut(id=1, platform="twitch", external_id="-1", handle="=cmd", display_name="\tx",
                     job_id=None, created_at=T, updated_at=T)
    line = render_csv(AccountOut, [row]).decode().splitlines()[1]
    assert line == "1,twitch,'-1,'=cmd,'\tx,,2026-05-01T12:34:56Z,2026-05-01T12:34:56Z"


def test_buckets_are_widened_to_whole_hours_and_days() -> None:
    end = T + timedelta(hours=3)
    assert align(T, end, "raw") == (T, end)
    hour = T.replace(minute=0, second=0)
    assert align(T, end, "hour") == (hour, hour + timedelta(hours=4))
    day = datetime(2026, 5, 1, tzinfo=UTC)
    assert align(T, end, "day") == (day, day + timedelta(days=1))
    assert align(day, day + timedelta(days=2), "day") == (day, day + timedelta(days=2))  # aligned stays


@pytest.mark.parametrize(("gain", "old", "rate"), [
    (10.0, 100.0, 0.1), (-50.0, 500.0, -0.1), (5.0, 0.0, None), (None, None, None), (0.0, 7.0, 0.0),
])
def test_growth_rate(gain: float | None, old: float | None, rate: float | None) -> None:
    assert growth_rate(gain, old) == rate
