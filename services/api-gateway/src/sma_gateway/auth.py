"""Bearer API keys: token parsing, hashed constant-time verification, scopes, and the middleware
that guards `/api/*` (401 without or with a bad key, 403 without the scope a route needs).

Scopes nest: `admin` grants `write`, which grants `read`. Reads (GET, HEAD) need `read`, changes
need `write`, key management needs `admin`. `last_used_at` is written at most once per interval
per key, so authenticating never turns every read into a database write.

A verified key's row is kept in memory (`KeyCache`) while the cache-events subscription is live,
so a request costs no database round trip either: a revocation through the API publishes a
`key:` event that drops it on every gateway at once, and any copy expires after
`SMA_API_KEY_CACHE_SECONDS` whatever happens. The secret is still hashed and compared, in
constant time, on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sma_common.api_keys import PREFIX_LENGTH, SECRET_LENGTH, parse_token, secret_matches
from sma_common.cache_versions import publish_key_event
from sma_common.db import DatabasePool
from sma_common.redis import RedisClient
from sma_gateway.metrics import AuthFailure
from sma_gateway.problem import ProblemError
from sma_gateway.repositories import api_keys

Scope = Literal["read", "write", "admin"]
_SCOPE_RANK: dict[str, int] = {"read": 0, "write": 1, "admin": 2}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROTECTED_PREFIX = "/api/"
# `Bearer sma_<8-character prefix>_<43-character secret>`, split by position on the hot path; any
# other shape (other spacing, a lower-case scheme) takes `parse_bearer` on the full path.
_CANONICAL_START = "Bearer sma_"
_PREFIX_END = len(_CANONICAL_START) + PREFIX_LENGTH
_CANONICAL_LENGTH = _PREFIX_END + 1 + SECRET_LENGTH
KEYS_PREFIX = "/api/keys"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    name: str
    scopes: tuple[str, ...]
    prefix: str  # the token's public prefix (never the secret)
    granted: frozenset[str]  # every scope the key's scopes grant (admin grants write grants read)


PRINCIPAL = web.RequestKey("principal", Principal)


def parse_bearer(header: str | None) -> tuple[str, str] | None:
    """(prefix, secret) from `Authorization: Bearer sma_<prefix>_<secret>`, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return parse_token(token.strip())


def required_scope(method: str, path: str) -> Scope:
    if path == KEYS_PREFIX or path.startswith(KEYS_PREFIX + "/"):
        return "admin"
    return "read" if method.upper() in _SAFE_METHODS else "write"


def granted_scopes(scopes: Sequence[str]) -> frozenset[str]:
    """Every scope `scopes` grant: admin grants write, which grants read; unknown ones grant nothing."""
    top = max((_SCOPE_RANK.get(scope, -1) for scope in scopes), default=-1)
    return frozenset(scope for scope, rank in _SCOPE_RANK.items() if rank <= top)


class LastUsedThrottle:
    """Remembers, in this process, when each key's `last_used_at` was last written."""

    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_seconds
        self._clock = clock
        self._written: dict[int, float] = {}

    def pending(self, key_id: int) -> bool:
        """True when the key's `last_used_at` is due for a write (nothing is recorded)."""
        last = self._written.get(key_id)
        return last is None or self._clock() - last >= self._interval

    def due(self, key_id: int) -> bool:
        """True (and recorded as written) when the key was not stamped within the interval."""
        now = self._clock()
        last = self._written.get(key_id)
        if last is not None and now - last < self._interval:
            return False
        self._written[key_id] = now
        return True


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = f'Bearer realm="sma", error="{error}"' if error else 'Bearer realm="sma"'
    return ProblemError(401, detail, kind="unauthorized", headers={"WWW-Authenticate": challenge})


class KeyCache:
    """Verified key rows (and the principal each one stands for) by public prefix, for at most
    `ttl_seconds`, and only while `live()` (the coherence subscription that delivers revocations
    is up)."""

    _MAX_KEYS = 10_000

    def __init__(
        self, ttl_seconds: float, *, live: Callable[[], bool], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._live = live
        self._clock = clock
        self._rows: dict[str, tuple[api_keys.StoredKey, Principal, float]] = {}

    def get(self, prefix: str) -> tuple[api_keys.StoredKey, Principal] | None:
        if not self._live():
            return None
        cached = self._rows.get(prefix)
        if cached is None or cached[2] <= self._clock():
            return None
        return cached[0], cached[1]

    def put(self, prefix: str, row: api_keys.StoredKey) -> tuple[api_keys.StoredKey, Principal]:
        """The row and its principal, kept when the cache is live."""
        principal = Principal(row.id, row.name, row.scopes, prefix, granted_scopes(row.scopes))
        if self._live() and self._ttl > 0:
            if len(self._rows) >= self._MAX_KEYS:
                self._rows.clear()
            self._rows[prefix] = (row, principal, self._clock() + self._ttl)
        return row, principal

    def forget(self, prefix: str | None) -> None:
        """Drop one key's copy, or every copy (None: the subscription changed state)."""
        if prefix is None:
            self._rows.clear()
        else:
            self._rows.pop(prefix, None)


class KeyRevocations:
    """Applies a revocation here at once and tells every other gateway (a published key event)."""

    def __init__(self, keys: KeyCache, redis: RedisClient) -> None:
        self._keys = keys
        self._redis = redis

    async def revoked(self, prefix: str) -> None:
        self._keys.forget(prefix)
        await publish_key_event(self._redis, prefix)


class KeyAuthenticator:
    """Verifies bearer tokens against `api_keys` (by prefix, then constant-time hash compare)."""

    def __init__(
        self, db: DatabasePool, throttle: LastUsedThrottle, last_used_interval_seconds: float, keys: KeyCache,
        record_failure: Callable[[AuthFailure], None],
    ) -> None:
        self._db = db
        self._throttle = throttle
        self._interval = last_used_interval_seconds
        self._keys = keys
        self._record_failure = record_failure

    async def _find(self, prefix: str) -> tuple[api_keys.StoredKey, Principal] | None:
        cached = self._keys.get(prefix)
        if cached is not None:
            return cached
        stored = await api_keys.find_active_key(self._db.pool, prefix)
        return None if stored is None else self._keys.put(prefix, stored)

    def reject(self, reason: AuthFailure, problem: ProblemError) -> ProblemError:
        self._record_failure(reason)
        return problem

    def verified(self, authorization: str | None, scope: Scope) -> Principal | None:
        """The principal when the token is a key verified recently (its row still in memory, its
        secret matching), with `scope`, and no `last_used_at` write is due; else None, and
        `authenticate` decides. Never waits: the hot read path's check."""
        if (authorization is None or len(authorization) != _CANONICAL_LENGTH
                or not authorization.startswith(_CANONICAL_START) or authorization[_PREFIX_END] != "_"):
            return None
        cached = self._keys.get(authorization[len(_CANONICAL_START):_PREFIX_END])
        if cached is None:
            return None
        stored, principal = cached
        secret = authorization[_PREFIX_END + 1:]
        if not secret_matches(secret, stored.secret_hash) or self._throttle.pending(stored.id):
            return None
        return principal if scope in principal.granted else None

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise self.reject("missing", _unauthorized("An API key is required: send 'Authorization: Bearer <key>'."))
        parsed = parse_bearer(authorization)
        if parsed is None:
            raise self.reject("malformed", _unauthorized(
                "The Authorization header is not 'Bearer sma_<prefix>_<secret>'.", "invalid_token"))
        prefix, secret = parsed
        found = await self._find(prefix)
        if found is None or not secret_matches(secret, found[0].secret_hash):
            raise self.reject("unknown_key", _unauthorized("The API key is unknown or revoked.", "invalid_token"))
        stored, principal = found
        if self._throttle.due(stored.id):
            await api_keys.touch_last_used(self._db.pool, stored.id, self._interval)
        return principal


def auth_middleware(authenticator: KeyAuthenticator) -> Middleware:
    """Guards `/api/*`; health, readiness and metrics stay open, unknown routes fall through to 404."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PROTECTED_PREFIX) or request.match_info.http_exception is not None:
            return await handler(request)
        principal = await authenticator.authenticate(request.headers.get("Authorization"))
        needed = required_scope(request.method, request.path)
        if needed not in principal.granted:
            raise authenticator.reject(
                "scope", ProblemError(403, f"This API key lacks the '{needed}' scope.", kind="forbidden"))
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
