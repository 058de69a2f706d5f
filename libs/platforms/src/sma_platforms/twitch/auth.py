"""Twitch app access tokens: client credentials in the form body of `POST {auth_base}/oauth2/token`
(renewal and caching: `sma_platforms.oauth`)."""

from __future__ import annotations

from pydantic import SecretStr

from sma_common.clock import Clock
from sma_platforms.http import HttpClient
from sma_platforms.oauth import ClientCredentialsTokens


def twitch_app_tokens(
    http: HttpClient, *, auth_base: str, client_id: str, client_secret: SecretStr, clock: Clock
) -> ClientCredentialsTokens:
    return ClientCredentialsTokens(
        http, token_url=f"{auth_base.rstrip('/')}/oauth2/token", platform_label="Twitch", clock=clock,
        form={"client_id": client_id, "client_secret": client_secret.get_secret_value(),
              "grant_type": "client_credentials"},
    )
