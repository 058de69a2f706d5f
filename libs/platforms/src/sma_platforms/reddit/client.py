"""The Reddit adapter: batch fetch of subreddit subscribers and active users through
`GET /api/info?sr_name=a,b,…` (100 names a call), user link and comment karma through
`GET /api/user_data_by_account_ids?ids=t2_a,t2_b,…` (100 fullnames a call; it has no total
karma, so none is stored), and resolving `r/name`, subreddit URLs, `u/name` (`/user/{name}/about`)
or a fullname to the immutable fullname (`t5_…` subreddits, `t2_…` users).

Users absent from the batch answer are not found (Reddit leaves out unknown, suspended and
deleted accounts, and answers 404 when none of them exists).

Every call sends the app's unique User-Agent and an application-only bearer token; a 401
renews the token and repeats the call once. Rate-limit headers are `x-ratelimit-used`,
`x-ratelimit-remaining` (decimal) and `x-ratelimit-reset` (seconds from now). A 403 is a
private, banned or gated subreddit (not found), not an auth error.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from sma_common.errors import ConfigurationError, NotFound, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import HttpAdapter
from sma_platforms.base import FetchResult, FetchTarget, Outcome, ResolvedAccount
from sma_platforms.batch import BatchResults, chunked, halts_batch
from sma_platforms.http import CallLog, Params, classify, error_for
from sma_platforms.oauth import ClientCredentialsTokens
from sma_platforms.payload import MalformedResponse
from sma_platforms.ratelimit import RateLimitFormat
from sma_platforms.reddit.auth import reddit_app_tokens
from sma_platforms.reddit.parse import (
    RedditThing,
    is_subreddit_id,
    is_user_id,
    parse_about,
    parse_listing,
    parse_ref,
    parse_user_data,
    refine_outcome,
    subreddit_name,
)

RATE_LIMIT_FORMAT = RateLimitFormat(prefix="x-ratelimit-", reset="seconds")
USER_DATA_PATH = "/api/user_data_by_account_ids"


class RedditAdapter(HttpAdapter):
    """`PlatformAdapter` for Reddit (see the module docstring). Configured only when the client
    id, secret and User-Agent are all set."""

    platform = Platform.REDDIT
    max_batch_size = MAX_BATCH_SIZE[Platform.REDDIT]
    rate_limit_format = RATE_LIMIT_FORMAT

    def _configure(self, settings: PlatformSettings) -> None:
        self._api = settings.reddit_api_base.rstrip("/")
        self._user_agent = (settings.reddit_user_agent or "").strip()
        secret, client_id = settings.reddit_client_secret, settings.reddit_client_id
        self.budget_scope = client_id or "unconfigured"
        self._tokens: ClientCredentialsTokens | None = None
        if client_id and secret is not None and secret.get_secret_value() and self._user_agent:
            self._tokens = reddit_app_tokens(
                self._http, auth_base=settings.reddit_auth_base, client_id=client_id, client_secret=secret,
                user_agent=self._user_agent, clock=self._clock,
            )

    @property
    def is_configured(self) -> bool:
        return self._tokens is not None

    async def fetch(self, targets: Sequence[FetchTarget]) -> FetchResult:
        observed_at = self._clock.now()
        log, results = CallLog(), BatchResults(targets)
        if self._tokens is None:
            results.fail(targets, Outcome.AUTH_ERROR, "Reddit is not configured (client id, secret, user agent)")
            return results.build(log, observed_at)
        subreddits = [t for t in targets if is_subreddit_id(t.external_id)]
        users = [t for t in targets if is_user_id(t.external_id)]
        results.fail([t for t in targets if t not in subreddits and t not in users], Outcome.NOT_FOUND,
                     "not a Reddit fullname (t5_ or t2_)")
        for chunk in chunked(subreddits, self.max_batch_size):
            if results.pending(chunk):
                await self._fetch_subreddits(chunk, results, log)
        for chunk in chunked(users, self.max_batch_size):
            if results.pending(chunk):
                await self._fetch_users(chunk, results, log)
        if results.credentials_rejected:
            await self._http.hold_for_auth()
        return results.build(log, observed_at)

    async def _fetch_subreddits(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        """One `/api/info` call by name (by fullname for targets without a handle)."""
        names = list(dict.fromkeys(subreddit_name(t.handle) for t in chunk if t.handle.strip()))
        ids = list(dict.fromkeys(t.external_id for t in chunk if not t.handle.strip()))
        found: dict[str, RedditThing] = {}
        try:
            for key, values in (("sr_name", names), ("id", ids)):
                if values:
                    found |= parse_listing(await self._get("/api/info", [(key, ",".join(values))], log))
        except SmaError as exc:
            results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        by_name = {thing.name.lower(): thing for thing in found.values()}
        for target in chunk:
            thing = found.get(target.external_id) or by_name.get(subreddit_name(target.handle))
            if thing is None:
                results.fail([target], Outcome.NOT_FOUND, "no such subreddit (absent from /api/info)")
            else:
                results.succeed(target, thing.observations)

    async def _fetch_users(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        """One `/api/user_data_by_account_ids` call by fullname (no handle needed); a 404 means
        none of them exists."""
        ids = list(dict.fromkeys(t.external_id for t in chunk))
        try:
            lookup = parse_user_data(await self._get(USER_DATA_PATH, [("ids", ",".join(ids))], log))
        except SmaError as exc:
            if classify(exc) is Outcome.NOT_FOUND:
                results.fail(chunk, Outcome.NOT_FOUND, f"none of these Reddit users exists ({exc})")
            else:
                results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        for target in chunk:
            if (thing := lookup.users.get(target.external_id)) is not None:
                results.succeed(target, thing.observations)
            elif (why := lookup.unreadable.get(target.external_id)) is not None:
                results.fail([target], Outcome.FAILED, why)
            else:
                results.fail([target], Outcome.NOT_FOUND, "no such Reddit user (absent from user_data_by_account_ids)")

    async def resolve(self, account: str) -> ResolvedAccount:
        if self._tokens is None:
            raise ConfigurationError(
                "Reddit is not configured: set SMA_REDDIT_CLIENT_ID, SMA_REDDIT_CLIENT_SECRET and SMA_REDDIT_USER_AGENT"
            )
        ref, log = parse_ref(account), CallLog()
        thing: RedditThing | None
        if ref.kind == "fullname" and is_user_id(ref.value):
            lookup = parse_user_data(await self._get(USER_DATA_PATH, [("ids", ref.value)], log))
            thing = lookup.users.get(ref.value)
            if ref.value in lookup.unreadable or (thing is not None and not thing.name):
                raise MalformedResponse(lookup.unreadable.get(ref.value, f"user data for {ref.value}: no name"))
        elif ref.kind == "fullname":
            thing = next(iter(parse_listing(await self._get("/api/info", [("id", ref.value)], log)).values()), None)
        else:
            path = f"/r/{quote(ref.value)}/about" if ref.kind == "subreddit" else f"/user/{quote(ref.value)}/about"
            thing = parse_about(await self._get(path, [], log))
        if thing is None:
            raise NotFound(f"no Reddit subreddit or user {account.strip()!r}")
        handle = f"u/{thing.name}" if thing.fullname.startswith("t2_") else thing.name
        return ResolvedAccount(Platform.REDDIT, thing.fullname, handle, thing.title)

    async def _get(self, path: str, params: Params, log: CallLog) -> object:
        """One API GET with a valid token (renewed once on 401); raises the classified error."""
        assert self._tokens is not None
        query = [*params, ("raw_json", "1")]
        token = await self._tokens.get()
        reply = await self._http.request("GET", f"{self._api}{path}", log=log, params=query,
                                         headers=self._headers(token))
        if reply.status == 401:
            self._tokens.invalidate(token)
            token = await self._tokens.get()
            reply = await self._http.request("GET", f"{self._api}{path}", log=log, params=query,
                                             headers=self._headers(token))
        outcome = classify(reply.status, reply.body, refine=refine_outcome)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        return reply.body

    def _headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"bearer {token}", "User-Agent": self._user_agent}
