"""The YouTube Data API v3 adapter: batch fetch of subscribers, views and videos through
`channels.list` (50 channel ids a call, 1 quota unit whatever the count) and resolving a channel
id, channel URL or @handle to the channel id (`forHandle` for handles).

Auth is an API key in the `key=` query parameter. There are no rate-limit headers: quota
exhaustion is a 403 `quotaExceeded`, which lasts until midnight America/Los_Angeles, so it is
reported as rate_limited with that reset. A bad key is a 400; other 403s are auth errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from sma_common.errors import ConfigurationError, NotFound, RateLimited, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import ChunkedAdapter, credential_digest
from sma_platforms.base import FetchTarget, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.batch import BatchResults, halts_batch
from sma_platforms.http import CallLog, HttpReply, Params, classify, describe, error_for
from sma_platforms.youtube.parse import (
    is_channel_id,
    is_quota_exceeded,
    parse_channel_ref,
    parse_channels,
    quota_reset_at,
    refine_outcome,
)

FETCH_PARTS = "snippet,statistics"


class YouTubeAdapter(ChunkedAdapter):
    """`PlatformAdapter` for YouTube (see the module docstring). Configured by an API key."""

    platform = Platform.YOUTUBE
    max_batch_size = MAX_BATCH_SIZE[Platform.YOUTUBE]
    unconfigured_detail = "YouTube is not configured (no API key)"
    invalid_id_detail = "not a YouTube channel id"

    def _configure(self, settings: PlatformSettings) -> None:
        self._api = settings.youtube_api_base.rstrip("/")
        self._key = settings.youtube_api_key
        if self._key is not None:
            self.budget_scope = credential_digest(self._key.get_secret_value())

    @property
    def is_configured(self) -> bool:
        return self._key is not None and bool(self._key.get_secret_value())

    def valid_id(self, external_id: str) -> bool:
        return is_channel_id(external_id)

    async def _fetch_chunk(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        ids = list(dict.fromkeys(t.external_id for t in chunk))
        params = [("part", FETCH_PARTS), ("id", ",".join(ids)), ("maxResults", str(self.max_batch_size))]
        try:
            channels = parse_channels(await self._get(params, log))
        except SmaError as exc:
            results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        for target in chunk:
            channel = channels.get(target.external_id)
            if channel is None:
                results.fail([target], Outcome.NOT_FOUND, "no such YouTube channel (absent from channels.list)")
            else:
                results.succeed(target, channel.observations)

    async def resolve(self, account: str) -> ResolvedAccount:
        if not self.is_configured:
            raise ConfigurationError("YouTube is not configured: set SMA_YOUTUBE_API_KEY")
        ref = parse_channel_ref(account)
        selector = "id" if ref.kind == "id" else "forHandle"
        channels = parse_channels(await self._get([("part", "snippet"), (selector, ref.value)], CallLog()))
        channel = channels.get(ref.value) if ref.kind == "id" else next(iter(channels.values()), None)
        if channel is None:
            raise NotFound(f"no YouTube channel {account.strip()!r}")
        handle = channel.handle or (ref.value if ref.kind == "handle" else channel.id)
        return ResolvedAccount(Platform.YOUTUBE, channel.id, handle, channel.title)

    async def _get(self, params: Params, log: CallLog) -> object:
        """One channels.list call; raises the classified error for anything but a success."""
        assert self._key is not None
        query = [*params, ("key", self._key.get_secret_value())]
        reply = await self._http.request("GET", f"{self._api}/channels", log=log, params=query)
        outcome = classify(reply.status, reply.body, refine=refine_outcome)
        if outcome is Outcome.SUCCESS:
            return reply.body
        if is_quota_exceeded(reply.status, reply.body):
            raise await self._quota_exceeded(reply, log)
        raise error_for(reply, outcome)

    async def _quota_exceeded(self, reply: HttpReply, log: CallLog) -> RateLimited:
        """The daily quota is spent: no call succeeds before midnight Pacific, on any replica."""
        now = self._clock.now()
        reset_at = quota_reset_at(now)
        log.note(RateLimitState(limit=None, remaining=0, reset_at=reset_at))
        await self._http.hold(reset_at.timestamp(), "quota")
        retry_after = (reset_at - now).total_seconds()
        return RateLimited(f"{describe(reply)} (quota resets {reset_at.isoformat()})", retry_after=retry_after)
