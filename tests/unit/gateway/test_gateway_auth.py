import pytest

from sma_common.api_keys import generate_key
from sma_gateway.auth import LastUsedThrottle, granted_scopes, parse_bearer, required_scope

KEY = generate_key()
PREFIX, SECRET = KEY.token.split("_", 2)[1:]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {KEY.token}", (PREFIX, SECRET)),
        (f"bearer   {KEY.token}  ", (PREFIX, SECRET)),
        (f"BEARER {KEY.token}", (PREFIX, SECRET)),
        (None, None),
        ("", None),
        (KEY.token, None),
        (f"Basic {KEY.token}", None),
        ("Bearer", None),
        ("Bearer sma_short_secret", None),
        (f"Bearer {KEY.token}x", None),
        (f"Bearer {KEY.token.upper()}", None),
    ],
)
def test_parse_bearer(header: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_bearer(header) == expected


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/jobs", "read"),
        ("HEAD", "/api/jobs", "read"),
        ("POST", "/api/jobs", "write"),
        ("PUT", "/api/jobs/1", "write"),
        ("PATCH", "/api/jobs/1", "write"),
        ("DELETE", "/api/jobs/1", "write"),
        ("POST", "/api/jobs/1/run", "write"),
        ("GET", "/api/keys", "admin"),
        ("DELETE", "/api/keys/abc", "admin"),
        ("GET", "/api/keysmith", "read"),
    ],
)
def test_required_scope(method: str, path: str, scope: str) -> None:
    assert required_scope(method, path) == scope


@pytest.mark.parametrize(
    ("scopes", "required", "granted"),
    [
        (["read"], "read", True),
        (["read"], "write", False),
        (["write"], "read", True),
        (["write"], "admin", False),
        (["admin"], "write", True),
        ([], "read", False),
        (["superuser"], "read", False),
    ],
)
def test_scopes_nest(scopes: list[str], required: str, granted: bool) -> None:
    assert (required in granted_scopes(scopes)) is granted


def test_last_used_is_due_once_per_interval_per_key() -> None:
    now = [1000.0]
    throttle = LastUsedThrottle(60.0, clock=lambda: now[0])
    assert throttle.due(1) is True
    assert throttle.due(1) is False
    assert throttle.due(2) is True
    now[0] += 59.9
    assert throttle.due(1) is False
    now[0] += 0.2
    assert throttle.due(1) is True
    assert throttle.due(1) is False
