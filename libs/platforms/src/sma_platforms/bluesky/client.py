"""The Bluesky adapter: batch fetch of followers, following and posts through the public AppView
(`app.bsky.actor.getProfiles`, 25 actors a call, no auth) and resolving a handle, DID or
profile URL to the DID through `app.bsky.actor.getProfile`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sma_common.errors import NotFound, SmaError
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms.adapter import ChunkedAdapter
from sma_platforms.base import FetchTarget, Outcome, ResolvedAccount
from sma_platforms.batch import BatchResults, halts_batch
from sma_platforms.bluesky.parse import (
    BlueskyProfile,
    is_actor,
    parse_actor_ref,
    parse_profile,
    parse_profiles,
    refine_outcome,
)
from sma_platforms.http import CallLog, Params, UpstreamRejected, classify, error_for
from sma_platforms.ratelimit import RateLimitFormat

RATE_LIMIT_FORMAT = RateLimitFormat(prefix="ratelimit-", reset="epoch")


class BlueskyAdapter(ChunkedAdapter):
    """`PlatformAdapter` for Bluesky (see the module docstring). Always configured."""

    platform = Platform.BLUESKY
    max_batch_size = MAX_BATCH_SIZE[Platform.BLUESKY]
    rate_limit_format = RATE_LIMIT_FORMAT
    invalid_id_detail = "not a Bluesky DID or handle"

    def _configure(self, settings: PlatformSettings) -> None:
        self._api = settings.bluesky_api_base.rstrip("/")

    def valid_id(self, external_id: str) -> bool:
        return is_actor(external_id)

    async def _fetch_chunk(self, chunk: Sequence[FetchTarget], results: BatchResults, log: CallLog) -> None:
        actors = list(dict.fromkeys(t.external_id for t in chunk))
        try:
            body = await self._get("app.bsky.actor.getProfiles", [("actors", a) for a in actors], log)
            profiles = parse_profiles(body)
        except SmaError as exc:
            results.fail_with(results.pending() if halts_batch(exc) else chunk, exc)
            return
        index = _index(profiles)
        for target in chunk:
            profile = index.get(target.external_id) or index.get(target.external_id.lower())
            if profile is None:
                results.fail([target], Outcome.NOT_FOUND, "no such Bluesky account (absent from getProfiles)")
            else:
                results.succeed(target, profile.observations)

    async def resolve(self, account: str) -> ResolvedAccount:
        actor = parse_actor_ref(account)
        try:
            profile = parse_profile(await self._get("app.bsky.actor.getProfile", [("actor", actor)], CallLog()))
        except UpstreamRejected as exc:
            raise NotFound(f"Bluesky rejected actor {actor!r}: {exc}") from exc
        return ResolvedAccount(Platform.BLUESKY, profile.did, profile.handle, profile.display_name)

    async def _get(self, method: str, params: Params, log: CallLog) -> object:
        """One XRPC query; raises the classified error for anything but a success."""
        reply = await self._http.request("GET", f"{self._api}/{method}", log=log, params=params)
        outcome = classify(reply.status, reply.body, refine=refine_outcome)
        if outcome is not Outcome.SUCCESS:
            raise error_for(reply, outcome)
        return reply.body


def _index(profiles: list[BlueskyProfile]) -> dict[str, BlueskyProfile]:
    """Profiles by DID and by lower-cased handle (targets are keyed by DID; handles are a fallback)."""
    index: dict[str, BlueskyProfile] = {}
    for profile in profiles:
        index.setdefault(profile.handle.lower(), profile)
        index[profile.did] = profile
    return index
