import pytest

from sma_gateway.problem import ProblemError
from sma_gateway.validation import parse_json


@pytest.mark.parametrize(("raw", "value"), [(b"", {}), (b"  \n", {}), (b'{"a": 1}', {"a": 1}), (b"[1]", [1])])
def test_parse_json(raw: bytes, value: object) -> None:
    assert parse_json(raw) == value


@pytest.mark.parametrize("raw", [b"{", b"interval_minutes=120", b'{"a": 1,}', b"\xff"])
def test_malformed_json_is_400(raw: bytes) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_json(raw)
    assert caught.value.status == 400
