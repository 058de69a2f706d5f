"""The Twitch Helix adapter: batch fetch of followers, live state and live viewers, and resolving
a login, channel URL or user id to the immutable user id.

Per batch of up to 100 ids: `GET /users` (which ids exist), `GET /streams` (which are live),
then `GET /channels/followers` once per existing user. Every Helix call sends `Client-Id` and
an app token; a 401 renews the token and repeats the call once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sma_common.errors import ConfigurationError, NotFound, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import ChunkedAdapter
from sma_platforms.base import FetchTarget, Outcome, ResolvedAccount
from sma_platforms.batch import BatchResults, halts_batch
from sma_platforms.http import CallLog, Params, UpstreamRejected, classify, error_for
from sma_platforms.oauth import ClientCredentialsTokens
from sma_platforms.ratelimit import RateLimitFormat
from sma_platforms.twitch.auth import twitch_app_tokens
from sma_platforms.twitch.parse import (
    LOGIN_PATTERN,
    TwitchUser,
    channel_observations,
    is_user_id,
    parse_account_ref,
    parse_follower_total,
    parse_live_streams,
    parse_users,
)

RATE_LIMIT_FORMAT = RateLimitFormat(prefix="ratelimit-", reset="epoch")
# Follower totals are one call per channel; this bounds how many are in flight at once.
FOLLOWER_CONCURRENCY = 8
_Followers = dict[str, float | SmaError | None]


class TwitchAdapter(ChunkedAdapter):
    """`PlatformAdapter` for Twitch Helix (see the module docstring)."""

    platform = Platform.TWITCH
    max_batch_size = MAX_BATCH_SIZE[Platform.TWITCH]
    rate_limit_format = RATE_LIMIT_FORMAT
    unconfigured_detail = "Twitch is not configured (no client id and secret)"
    invalid_id_detail = "not a Twitch user id"

    def _configure(self, settings: PlatformSettings) -> None:
        self._api = settings.twitch_api_base.rstrip("/")
        self._client_id = settings.twitch_client_id or ""
        self.budget_scope = self._client_id or "unconfigured"
        secret = settings.twitch_client_secret
        self._tokens: ClientCredentialsTokens | None = None
        if self._client_id and secret is not None and secret.get_secret_value():
            self._tokens = twitch_app_tokens(
                self._http, auth_base=settings.twitch_auth_base, client_id=self._client_id,
                client_secret=secret, clock=self._clock,
            )

    @property
    def is_configured(self) -> bool:
        return self._tokens is not None

    def valid_id(self, external_id: str) -> bool:
        return is_user_id(external_id)

    async def _fetch_chunk(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        ids = list(dict.fromkeys(t.external_id for t in chunk))
        try:
            users = parse_users(await self._get("/users", [("id", i) for i in ids], log))
            results.fail([t for t in chunk if t.external_id not in users], Outcome.NOT_FOUND, "no such Twitch user")
            existing = [i for i in ids if i in users]
            if not existing:
                return
            params = [("user_id", i) for i in existing] + [("first", "100")]
            live = parse_live_streams(await self._get("/streams", params, log))
        except SmaError as exc:
            results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        followers = await self._followers(existing, log)
        for target in (t for t in chunk if t.external_id in users):
            total = followers[target.external_id]
            if isinstance(total, SmaError):
                results.fail_with([target], total)
                continue
            viewers = live.get(target.external_id)
            observations = channel_observations(
                is_live=target.external_id in live, live_viewers=viewers, followers=total
            )
            results.succeed(target, observations)

    async def _followers(self, user_ids: list[str], log: CallLog) -> _Followers:
        semaphore = asyncio.Semaphore(FOLLOWER_CONCURRENCY)
        halted: list[SmaError] = []

        async def one(user_id: str) -> float | SmaError | None:
            async with semaphore:
                if halted:
                    return halted[0]
                try:
                    body = await self._get("/channels/followers", [("broadcaster_id", user_id)], log)
                    return parse_follower_total(body)
                except SmaError as exc:
                    if halts_batch(exc):
                        halted.append(exc)
                    return exc

        totals = await asyncio.gather(*(one(i) for i in user_ids))
        return dict(zip(user_ids, totals, strict=True))

    async def resolve(self, account: str) -> ResolvedAccount:
        if self._tokens is None:
            raise ConfigurationError("Twitch is not configured: set SMA_TWITCH_CLIENT_ID and SMA_TWITCH_CLIENT_SECRET")
        ref = parse_account_ref(account)
        log = CallLog()
        user = await self._lookup("id", ref.value, log) if ref.kind == "id" else None
        # An all-digit string may also be a login: try it as one before giving up.
        if user is None and LOGIN_PATTERN.fullmatch(ref.value):
            user = await self._lookup("login", ref.value, log)
        if user is None:
            raise NotFound(f"no Twitch user {account.strip()!r}")
        return ResolvedAccount(Platform.TWITCH, user.id, user.login, user.display_name)

    async def _lookup(self, kind: str, value: str, log: CallLog) -> TwitchUser | None:
        try:
            users = parse_users(await self._get("/users", [(kind, value)], log))
        except UpstreamRejected as exc:
            raise NotFound(f"Twitch rejected {kind} {value!r}: {exc}") from exc
        if kind == "login":
            return next((u for u in users.values() if u.login.lower() == value), None)
        return users.get(value)

    async def _get(self, path: str, params: Params, log: CallLog) -> object:
        """One Helix GET with a valid token; raises the classified error for a non-2xx answer."""
        assert self._tokens is not None
        token = await self._tokens.get()
        reply = await self._http.request(
            "GET", f"{self._api}{path}", log=log, params=params, headers=self._headers(token)
        )
        if reply.status == 401:
            self._tokens.invalidate(token)
            token = await self._tokens.get()
            reply = await self._http.request(
                "GET", f"{self._api}{path}", log=log, params=params, headers=self._headers(token)
            )
        outcome = classify(reply.status, reply.body)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        return reply.body

    def _headers(self, token: str) -> dict[str, str]:
        return {"Client-Id": self._client_id, "Authorization": f"Bearer {token}"}
