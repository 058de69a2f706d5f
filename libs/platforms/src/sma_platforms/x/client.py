"""The X API v2 adapter: batch fetch of followers, following, posts and listed counts through
`GET /2/users?ids=` (100 ids a call, `user.fields=public_metrics`) and resolving a user id,
@username or x.com/twitter.com profile URL to the immutable user id
(`/2/users/by/username/:username` for names).

Auth is an app-only `Authorization: Bearer` token. Budgets come in `x-rate-limit-*` headers
with an epoch reset (300 requests per 15 minutes per app for user lookups); a 429 is
rate_limited until that reset. A lookup with unknown ids answers 200 with `data` for the ids
that resolved and `errors[]` for the rest (not found or suspended: not_found).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from sma_common.errors import ConfigurationError, NotFound, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import ChunkedAdapter, credential_digest
from sma_platforms.base import FetchTarget, Outcome, ResolvedAccount
from sma_platforms.batch import BatchResults, halts_batch
from sma_platforms.http import CallLog, Params, UpstreamRejected, classify, error_for
from sma_platforms.ratelimit import RateLimitFormat
from sma_platforms.x.parse import UserLookup, XUser, is_user_id, parse_user_ref, parse_users, refine_outcome

RATE_LIMIT_FORMAT = RateLimitFormat(prefix="x-rate-limit-", reset="epoch")
USER_FIELDS = "public_metrics,username,name"


class XAdapter(ChunkedAdapter):
    """`PlatformAdapter` for X (see the module docstring). Configured by a bearer token."""

    platform = Platform.X
    max_batch_size = MAX_BATCH_SIZE[Platform.X]
    rate_limit_format = RATE_LIMIT_FORMAT
    unconfigured_detail = "X is not configured (no bearer token)"
    invalid_id_detail = "not an X user id"

    def _configure(self, settings: PlatformSettings) -> None:
        self._api = settings.x_api_base.rstrip("/")
        self._token = settings.x_bearer_token
        if self._token is not None:
            self.budget_scope = credential_digest(self._token.get_secret_value())

    @property
    def is_configured(self) -> bool:
        return self._token is not None and bool(self._token.get_secret_value())

    def valid_id(self, external_id: str) -> bool:
        return is_user_id(external_id)

    async def _fetch_chunk(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        ids = list(dict.fromkeys(t.external_id for t in chunk))
        try:
            lookup = parse_users(await self._get("users", [("ids", ",".join(ids)), ("user.fields", USER_FIELDS)], log))
        except SmaError as exc:
            results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        for target in chunk:
            user = lookup.users.get(target.external_id)
            if user is not None:
                results.succeed(target, user.observations)
            elif (error := lookup.errors.get(target.external_id)) is not None:
                results.fail([target], *error)
            else:
                results.fail([target], Outcome.NOT_FOUND, "no such X user (absent from the lookup)")

    async def resolve(self, account: str) -> ResolvedAccount:
        if not self.is_configured:
            raise ConfigurationError("X is not configured: set SMA_X_BEARER_TOKEN")
        ref = parse_user_ref(account)
        if ref.kind == "id":
            path, params = "users", [("ids", ref.value)]
        else:
            path, params = f"users/by/username/{quote(ref.value)}", []
        try:
            lookup = parse_users(await self._get(path, [*params, ("user.fields", USER_FIELDS)], CallLog()))
        except UpstreamRejected as exc:
            raise NotFound(f"X rejected {account.strip()!r}: {exc}") from exc
        user = _the_user(lookup, ref.value)
        if user is None:
            raise NotFound(f"no X user {account.strip()!r}")
        return ResolvedAccount(Platform.X, user.id, user.username, user.name)

    async def _get(self, path: str, params: Params, log: CallLog) -> object:
        """One user lookup; raises the classified error for anything but a success."""
        assert self._token is not None
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        reply = await self._http.request("GET", f"{self._api}/{path}", log=log, params=params, headers=headers)
        outcome = classify(reply.status, reply.body, refine=refine_outcome)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        return reply.body


def _the_user(lookup: UserLookup, value: str) -> XUser | None:
    """The one user a single lookup found (by id, else the only user returned)."""
    if value in lookup.users:
        return lookup.users[value]
    return next(iter(lookup.users.values()), None) if len(lookup.users) == 1 else None
