"""Reddit application-only tokens: `POST {auth_base}/api/v1/access_token` with HTTP Basic
`client_id:client_secret` and the app's mandatory unique User-Agent. Tokens live an hour
(renewal and caching: `sma_platforms.oauth`)."""

from __future__ import annotations

import base64

from pydantic import SecretStr

from sma_common.clock import Clock
from sma_platforms.http import HttpClient
from sma_platforms.oauth import ClientCredentialsTokens


def reddit_app_tokens(
    http: HttpClient, *, auth_base: str, client_id: str, client_secret: SecretStr, user_agent: str, clock: Clock
) -> ClientCredentialsTokens:
    basic = base64.b64encode(f"{client_id}:{client_secret.get_secret_value()}".encode()).decode()
    return ClientCredentialsTokens(
        http, token_url=f"{auth_base.rstrip('/')}/api/v1/access_token", platform_label="Reddit", clock=clock,
        form={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "User-Agent": user_agent},
    )
