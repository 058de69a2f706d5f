from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

import sma_platforms
from sma_common.errors import RateLimited
from sma_common.platforms import MAX_BATCH_SIZE, Platform
from sma_common.settings import PlatformSettings
from sma_platforms import FetchTarget, ItemResult, Observation, Outcome, build_adapters
from sma_platforms.batch import BatchResults, chunked
from sma_platforms.http import CallLog
from sma_platforms.payload import get_count

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _targets(n: int) -> list[FetchTarget]:
    return [FetchTarget(uuid.uuid4(), i, str(1000 + i), f"user{i}") for i in range(n)]


def test_every_target_gets_exactly_one_result_in_target_order() -> None:
    a, b, c, d = _targets(4)
    results = BatchResults([a, b, c, d])
    results.fail([c], Outcome.NOT_FOUND, "gone")
    results.succeed(a, [Observation("followers", 1.0)])
    results.succeed(c, [Observation("followers", 2.0)])  # first word wins
    results.fail_with([a, b], RateLimited("slow down"))
    built = results.build(CallLog(api_calls=3), NOW)
    assert list(built.items) == [a.job_id, b.job_id, c.job_id, d.job_id]
    assert built.items[a.job_id] == ItemResult(Outcome.SUCCESS, (Observation("followers", 1.0),))
    assert built.items[b.job_id] == ItemResult(Outcome.RATE_LIMITED, (), "slow down")
    assert built.items[c.job_id].outcome is Outcome.NOT_FOUND
    assert built.items[d.job_id].outcome is Outcome.FAILED
    assert (built.api_calls, built.observed_at) == (3, NOW)


def test_pending_among() -> None:
    a, b = _targets(2)
    results = BatchResults([a, b])
    results.fail([a], Outcome.FAILED, "x")
    assert results.pending() == [b]
    assert results.pending([a]) == []


@pytest.mark.parametrize(("n", "size", "expected"), [(0, 3, []), (3, 3, [3]), (7, 3, [3, 3, 1])])
def test_chunked(n: int, size: int, expected: list[int]) -> None:
    assert [len(c) for c in chunked(list(range(n)), size)] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(5, 5.0), (0, 0.0), (2.5, 2.5), ("1780000", 1780000.0), (" 42 ", 42.0), ("1.5k", None), (True, None),
     (-1, None), (float("nan"), None), (None, None), ([], None)],
)
def test_get_count(raw: object, expected: float | None) -> None:
    assert get_count({"n": raw}, "n") == expected


def test_public_surface() -> None:
    assert sorted(sma_platforms.__all__) == sorted(
        ["AdapterSet", "FetchResult", "FetchTarget", "ItemResult", "Observation", "Outcome", "PlatformAdapter",
         "RateLimitState", "ResolvedAccount", "build_adapters"]
    )
    assert [o.value for o in Outcome] == ["success", "failed", "rate_limited", "auth_error", "not_found", "timeout"]


async def test_build_adapters_reports_configuration_without_io() -> None:
    unconfigured = build_adapters(PlatformSettings())
    assert set(unconfigured) == {Platform.TWITCH, Platform.YOUTUBE, Platform.BLUESKY, Platform.X, Platform.MASTODON,
                                 Platform.REDDIT}
    assert not unconfigured[Platform.TWITCH].is_configured
    assert not unconfigured[Platform.YOUTUBE].is_configured
    assert unconfigured[Platform.BLUESKY].is_configured
    assert unconfigured[Platform.MASTODON].is_configured
    assert not unconfigured[Platform.X].is_configured
    configured = build_adapters(
        PlatformSettings(twitch_client_id="id", twitch_client_secret=SecretStr("secret"),
                         youtube_api_key=SecretStr("key"))
    )
    assert configured[Platform.TWITCH].is_configured
    assert configured[Platform.YOUTUBE].is_configured
    for platform, adapter in configured.items():
        assert adapter.platform is platform
        assert adapter.max_batch_size == MAX_BATCH_SIZE[platform]
    for adapter in [*unconfigured.values(), *configured.values()]:
        await adapter.close()


async def test_unconfigured_twitch_fails_fetch_as_auth_error_and_resolve_as_configuration_error() -> None:
    from sma_common.errors import ConfigurationError

    twitch = build_adapters(PlatformSettings())[Platform.TWITCH]
    targets = _targets(2)
    result = await twitch.fetch(targets)
    assert {r.outcome for r in result.items.values()} == {Outcome.AUTH_ERROR}
    assert result.api_calls == 0
    with pytest.raises(ConfigurationError):
        await twitch.resolve("twitchdev")
    await twitch.close()
