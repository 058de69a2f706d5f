"""The Mastodon adapter: batch fetch of followers, following and posts from each account's home
instance, and resolving `@user@instance`, `user@instance` or `https://instance/@user` to the
account's immutable id through `GET /api/v1/accounts/lookup?acct=user`.

Every account lives on its own instance, so a fetch groups its targets by instance and reads
each group on that instance (base URL from the `SMA_MASTODON_API_BASE` template): 40 ids a call
through `GET /api/v1/accounts?id[]=…` (Mastodon 4.3+), or, where the instance answers 404/410
for that route (older servers), one `GET /api/v1/accounts/:id` per account. An instance seen
without the batch route is asked per account for a day before it is probed again. Instances
have separate rate budgets (`X-RateLimit-*`, ISO-8601 reset), so a 429, 5xx or timeout on one
instance only touches that instance's accounts. No credentials: public endpoints only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sma_common.errors import AuthRejected, ConfigurationError, NotFound, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import HttpAdapter
from sma_platforms.base import FetchResult, FetchTarget, Outcome, ResolvedAccount
from sma_platforms.batch import BatchResults, chunked, halts_batch
from sma_platforms.http import AuthHeld, CallLog, HttpReply, Params, classify, error_for
from sma_platforms.mastodon.parse import (
    AccountKey,
    MastodonAccount,
    parse_account,
    parse_account_ref,
    parse_accounts,
    parse_external_id,
)
from sma_platforms.ratelimit import RateLimitFormat

RATE_LIMIT_FORMAT = RateLimitFormat(prefix="x-ratelimit-", reset="iso")
# How long an instance without the 4.3+ batch route is read per account before probing again.
LEGACY_RECHECK = timedelta(days=1)
Member = tuple[FetchTarget, AccountKey]
Found = dict[str, MastodonAccount | SmaError]
"""Per account id: the account, or the error its own call ended with (absent: not found)."""


class MastodonAdapter(HttpAdapter):
    """`PlatformAdapter` for Mastodon (see the module docstring). Always configured."""

    platform = Platform.MASTODON
    max_batch_size = MAX_BATCH_SIZE[Platform.MASTODON]
    rate_limit_format = RATE_LIMIT_FORMAT
    budget_scope = ""  # one budget per instance: every call names its instance

    def _configure(self, settings: PlatformSettings) -> None:
        self._template = settings.mastodon_api_base
        self._without_batch: dict[str, datetime] = {}

    @property
    def is_configured(self) -> bool:
        return True

    async def fetch(self, targets: Sequence[FetchTarget]) -> FetchResult:
        observed_at = self._clock.now()
        log, results = CallLog(), BatchResults(targets)
        groups: dict[str, list[Member]] = {}
        for target in targets:
            key = parse_external_id(target.external_id)
            if key is None:
                results.fail([target], Outcome.NOT_FOUND, "not a Mastodon account id (<instance>:<account id>)")
            else:
                groups.setdefault(key.instance, []).append((target, key))
        await asyncio.gather(*(self._fetch_instance(i, members, results, log) for i, members in groups.items()))
        return results.build(log, observed_at)

    async def _fetch_instance(
        self, instance: str, members: list[Member], results: BatchResults, log: CallLog
    ) -> None:
        """Every account of one instance, 40 a call; a rate limit stops this instance only."""
        everyone = [target for target, _ in members]
        for chunk in chunked(members, self.max_batch_size):
            if not results.pending(t for t, _ in chunk):
                continue
            ids = list(dict.fromkeys(key.id for _, key in chunk))
            try:
                found = await self._read(instance, ids, log)
            except SmaError as exc:
                halting: SmaError | None = exc if halts_batch(exc) else None
                results.fail_with(results.pending(everyone) if halting else [t for t, _ in chunk], exc)
            else:
                _record(instance, chunk, found, results)
                halting = next((e for e in found.values() if isinstance(e, SmaError) and halts_batch(e)), None)
                if halting is not None:
                    results.fail_with(results.pending(everyone), halting)
            if isinstance(halting, AuthRejected) and not isinstance(halting, AuthHeld):
                # This instance refuses anonymous reads (authorized fetch): hold it alone.
                await self._http.hold_for_auth(scope=instance)

    async def _read(self, instance: str, ids: list[str], log: CallLog) -> Found:
        """The batch route where the instance has it, else one call per account."""
        base = self._base(instance)
        if not self._lacks_batch_route(instance):
            params = [("id[]", account_id) for account_id in ids]
            reply = await self._http.request("GET", f"{base}/api/v1/accounts", log=log, params=params,
                                             scope=instance)
            if reply.status not in (404, 410):
                return dict(parse_accounts(_success(reply)))
            self._without_batch[instance] = self._clock.now()
        singles = await asyncio.gather(*(self._read_one(instance, account_id, log) for account_id in ids))
        return {account_id: found for account_id, found in zip(ids, singles, strict=True) if found is not None}

    async def _read_one(self, instance: str, account_id: str, log: CallLog) -> MastodonAccount | SmaError | None:
        """`GET /api/v1/accounts/:id`; None for a 404 or 410 (unknown or gone)."""
        try:
            url = f"{self._base(instance)}/api/v1/accounts/{account_id}"
            reply = await self._http.request("GET", url, log=log, scope=instance)
            if classify(reply.status, reply.body) is Outcome.NOT_FOUND:
                return None
            return parse_account(_success(reply))
        except SmaError as exc:
            return exc

    def _lacks_batch_route(self, instance: str) -> bool:
        seen = self._without_batch.get(instance)
        return seen is not None and self._clock.now() - seen < LEGACY_RECHECK

    def _base(self, instance: str) -> str:
        try:
            return self._template.format(instance=instance).rstrip("/")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(f"SMA_MASTODON_API_BASE is not a valid template: {self._template!r}") from exc

    async def resolve(self, account: str) -> ResolvedAccount:
        ref = parse_account_ref(account)
        params: Params = [("acct", ref.username)]
        url = f"{self._base(ref.instance)}/api/v1/accounts/lookup"
        reply = await self._http.request("GET", url, log=CallLog(), params=params, scope=ref.instance)
        found = parse_account(_success(reply))
        handle = f"{found.username}@{ref.instance}"
        if found.unavailable is not None:
            raise NotFound(f"@{handle}: {found.unavailable}")
        return ResolvedAccount(Platform.MASTODON, AccountKey(ref.instance, found.id).external_id, handle,
                               found.display_name)


def _success(reply: HttpReply) -> object:
    """The body of a successful reply; raises the classified error for anything else."""
    outcome = classify(reply.status, reply.body)
    if outcome is not Outcome.SUCCESS:
        raise error_for(reply, outcome)
    return reply.body


def _record(instance: str, chunk: Sequence[Member], found: Found, results: BatchResults) -> None:
    for target, key in chunk:
        account = found.get(key.id)
        if isinstance(account, SmaError):
            results.fail_with([target], account)
        elif account is None:
            results.fail([target], Outcome.NOT_FOUND, f"no account {key.id} on {instance} (unknown or deleted)")
        elif account.unavailable is not None:
            results.fail([target], Outcome.NOT_FOUND, f"@{account.username}@{instance}: {account.unavailable}")
        else:
            results.succeed(target, account.observations)

