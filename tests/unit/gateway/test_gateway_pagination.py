from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from pydantic import TypeAdapter
from yarl import URL

from sma_gateway.pagination import decode_cursor, encode_cursor, next_link, page_limit, split_page
from sma_gateway.problem import ProblemError

JOB_CURSOR = TypeAdapter(tuple[datetime, UUID])


def test_cursor_round_trips_typed_values() -> None:
    created, job_id = datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC), uuid4()
    cursor = encode_cursor([created.isoformat(), str(job_id)])
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, JOB_CURSOR) == (created, job_id)


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "", encode_cursor(["not a date", str(uuid4())]), encode_cursor([1]), "e30", "%%%%"],
)
def test_bad_cursors_are_422_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(ProblemError) as caught:
        decode_cursor(cursor, JOB_CURSOR)
    assert caught.value.status == 422
    assert [(e.location, e.name) for e in caught.value.errors] == [("query", "cursor")]


@pytest.mark.parametrize(("requested", "expected"), [(None, 50), (1, 1), (500, 500)])
def test_page_limit(requested: int | None, expected: int) -> None:
    assert page_limit(requested, 50, 500) == expected


def test_page_limit_above_maximum_is_422() -> None:
    with pytest.raises(ProblemError) as caught:
        page_limit(501, 50, 500)
    assert caught.value.status == 422 and caught.value.errors[0].name == "limit"


def test_next_link_keeps_filters_and_replaces_the_cursor() -> None:
    link = next_link(URL("/api/jobs?platform=twitch&limit=2&cursor=old"), cursor="new")
    assert link == '</api/jobs?platform=twitch&limit=2&cursor=new>; rel="next"'


def test_next_link_from_an_absolute_url_is_path_absolute() -> None:
    link = next_link(URL("http://gw.internal:8080/api/accounts/1/metrics?metric=followers"), **{"from": "x"})
    assert link == '</api/accounts/1/metrics?metric=followers&from=x>; rel="next"'


@pytest.mark.parametrize(
    ("rows", "limit", "page", "last"),
    [([], 2, [], None), ([1, 2], 2, [1, 2], None), ([1, 2, 3], 2, [1, 2], 2)],
)
def test_split_page(rows: list[int], limit: int, page: list[int], last: int | None) -> None:
    assert split_page(rows, limit) == (page, last)
