"""Reddit application-only OAuth tokens (client credentials).

`POST {auth_base}/api/v1/access_token` with HTTP Basic `client_id:client_secret`, the body
`grant_type=client_credentials` and the app's unique User-Agent. Tokens live an hour: one is
cached, renewed shortly before it expires and, on demand, after the API answers 401.
Concurrent callers share one token request. Secrets and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from sma_common.clock import Clock
from sma_common.errors import AuthRejected
from sma_platforms.base import Outcome
from sma_platforms.http import HttpClient, classify, describe, error_for
from sma_platforms.reddit.parse import parse_token

# Renew this long before expiry (capped at a tenth of the token's life for short-lived tokens).
RENEW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class _CachedToken:
    value: str
    renew_at: datetime


class RedditTokenProvider:
    """Hands out a valid application-only token; see the module docstring."""

    def __init__(
        self, http: HttpClient, *, auth_base: str, client_id: str, client_secret: SecretStr, user_agent: str,
        clock: Clock,
    ) -> None:
        self._http = http
        self._url = f"{auth_base.rstrip('/')}/api/v1/access_token"
        basic = base64.b64encode(f"{client_id}:{client_secret.get_secret_value()}".encode()).decode()
        self._headers = {"Authorization": f"Basic {basic}", "User-Agent": user_agent}
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
        reply = await self._http.request(
            "POST", self._url, log=None, headers=self._headers, data={"grant_type": "client_credentials"}
        )
        # Bad app credentials are a 401 (Basic realm); a 400 is a malformed grant.
        if reply.status in (400, 401, 403):
            raise AuthRejected(f"Reddit refused the client credentials ({describe(reply)})")
        outcome = classify(reply.status, reply.body)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        grant = parse_token(reply.body)
        margin = min(RENEW_MARGIN_SECONDS, grant.expires_in / 10)
        return _CachedToken(grant.access_token, self._clock.now() + timedelta(seconds=grant.expires_in - margin))
