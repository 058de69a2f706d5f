from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from sma_common.errors import (
    AuthRejected,
    ConfigurationError,
    DependencyTimeout,
    NotFound,
    RateLimited,
    UpstreamUnavailable,
)
from sma_common.platforms import Platform
from sma_gateway.adapters import Adapters, resolve_account
from sma_gateway.problem import ProblemError
from sma_platforms import FetchResult, FetchTarget, ResolvedAccount


@dataclass
class StubAdapter:
    """Stands in for a platform client: answers `resolve` with a fixed result or error."""

    platform: Platform
    answer: ResolvedAccount | Exception
    is_configured: bool = True
    max_batch_size: int = 10

    async def resolve(self, account: str) -> ResolvedAccount:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def fetch(self, targets: Sequence[FetchTarget]) -> FetchResult:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def adapters_with(answer: ResolvedAccount | Exception, configured: bool = True) -> Adapters:
    return {Platform.TWITCH: StubAdapter(Platform.TWITCH, answer, configured)}


async def test_resolved_account_becomes_an_identity() -> None:
    found = ResolvedAccount(Platform.TWITCH, "1234", "shroud", "Shroud")
    identity = await resolve_account(adapters_with(found), Platform.TWITCH, "https://twitch.tv/shroud")
    assert identity == ResolvedAccount(Platform.TWITCH, "1234", "shroud", "Shroud")


@pytest.mark.parametrize(
    ("error", "status", "field", "retry_after"),
    [
        (NotFound("no such user"), 422, "account", None),
        (ConfigurationError("no client id"), 422, "platform", None),
        (RateLimited("slow down", retry_after=12.2), 503, None, "13"),
        (RateLimited("slow down"), 503, None, "30"),
        (UpstreamUnavailable("502 from helix"), 503, None, "30"),
        (DependencyTimeout("no answer"), 503, None, "30"),
        (AuthRejected("bad secret"), 502, None, None),
    ],
)
async def test_platform_errors_map_to_problems(
    error: Exception, status: int, field: str | None, retry_after: str | None
) -> None:
    with pytest.raises(ProblemError) as caught:
        await resolve_account(adapters_with(error), Platform.TWITCH, "shroud")
    problem = caught.value
    assert problem.status == status
    assert [e.name for e in problem.errors] == ([field] if field else [])
    assert problem.headers.get("Retry-After") == retry_after


async def test_unimplemented_and_unconfigured_platforms_are_422_on_the_platform_field() -> None:
    found = ResolvedAccount(Platform.TWITCH, "1", "a", None)
    with pytest.raises(ProblemError, match="not implemented") as missing:
        await resolve_account(adapters_with(found), Platform.MASTODON, "a@b.social")
    with pytest.raises(ProblemError, match="not configured") as unconfigured:
        await resolve_account(adapters_with(found, configured=False), Platform.TWITCH, "a")
    for caught in (missing, unconfigured):
        assert caught.value.status == 422 and caught.value.errors[0].name == "platform"
