"""OAuth client-credentials app tokens, written once for every platform that uses them (Twitch,
Reddit): the platform says only where the token endpoint is and how the request is signed.

A token is requested once, cached, renewed shortly before it expires and, on demand, after the
API answers 401 (`invalidate`). Concurrent callers share one token request. Secrets and tokens
are never logged or put in error messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sma_common.clock import Clock
from sma_common.errors import AuthRejected
from sma_platforms.base import Outcome
from sma_platforms.http import HttpClient, classify, describe, error_for
from sma_platforms.payload import MalformedResponse, as_mapping, get_count, require_str

# Renew this long before expiry (capped at a tenth of the token's life for short-lived tokens).
RENEW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    expires_in: float


def parse_token_grant(body: object, what: str) -> TokenGrant:
    """The token endpoint's JSON: `access_token` and `expires_in` (seconds), both required."""
    item = as_mapping(body, what)
    expires_in = get_count(item, "expires_in")
    if expires_in is None:
        raise MalformedResponse(f"{what}: missing expires_in")
    return TokenGrant(require_str(item, "access_token", what), expires_in)


@dataclass(frozen=True, slots=True)
class _CachedToken:
    value: str
    renew_at: datetime


class ClientCredentialsTokens:
    """Hands out a valid app token; see the module docstring for the renewal rules.

    Args:
        token_url: the token endpoint.
        platform_label: the platform's name, for error messages.
        form: the form body (`grant_type=client_credentials`, plus credentials if the platform
            takes them in the body).
        headers: request headers (HTTP Basic credentials, a mandatory User-Agent).
    """

    def __init__(
        self, http: HttpClient, *, token_url: str, platform_label: str, form: Mapping[str, str],
        headers: Mapping[str, str] | None = None, clock: Clock,
    ) -> None:
        self._http = http
        self._url = token_url
        self._label = platform_label
        self._form = dict(form)
        self._headers = dict(headers or {})
        self._clock = clock
        self._token: _CachedToken | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """A token that is not about to expire. Raises `AuthRejected` for refused credentials,
        `RateLimited` when the token endpoint throttles us, or the request's transient errors."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is None:
                self._token = await self._request()
                token = self._token.value
            return token

    def invalidate(self, value: str) -> None:
        """Forget `value` after the API rejected it, unless another caller already replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None

    def _fresh(self) -> str | None:
        if self._token is not None and self._clock.now() < self._token.renew_at:
            return self._token.value
        return None

    async def _request(self) -> _CachedToken:
        reply = await self._http.request("POST", self._url, log=None, headers=self._headers, data=self._form)
        # Bad client credentials come back as 400, 401 or 403 depending on the platform.
        if reply.status in (400, 401, 403):
            raise AuthRejected(f"{self._label} refused the client credentials ({describe(reply)})")
        outcome = classify(reply.status, reply.body)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        grant = parse_token_grant(reply.body, self._url.rsplit("/", 1)[-1])
        margin = min(RENEW_MARGIN_SECONDS, grant.expires_in / 10)
        return _CachedToken(grant.access_token, self._clock.now() + timedelta(seconds=grant.expires_in - margin))
