from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import pytest

from sma_common.errors import NotFound
from sma_common.platforms import Platform
from sma_platforms import ItemResult, Outcome, RateLimitState, ResolvedAccount
from sma_platforms.mastodon import MastodonAdapter
from sma_simulator.profiles.mastodon import HIDDEN_COUNTS, MOVED, SUSPENDED, instance_of
from sma_simulator.state import SimAccount
from tests.integration.platforms.conftest import START, StartSimulator
from tests.integration.platforms.harness import MAX_RETRIES, Simulator, figures, target

MASTODON = Platform.MASTODON
SOCIAL, LEGACY = "mastodon.social", "legacy.example"
BATCH, SINGLE = "api/v1/accounts", "api/v1/accounts/:id"


@pytest.fixture
async def mastodon(simulator: Simulator) -> AsyncIterator[MastodonAdapter]:
    adapter = MastodonAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    yield adapter
    await adapter.close()


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


def _trackable(simulator: Simulator, instance: str | None = None) -> list[SimAccount]:
    return [a for a in simulator.accounts(MASTODON) if a.handle not in SUSPENDED and a.handle not in MOVED
            and (instance is None or instance_of(a) == instance)]


def _calls(simulator: Simulator, instance: str, endpoint: str) -> int:
    return simulator.requests(MASTODON, f"{instance}/{endpoint}")


async def test_a_batch_across_two_instances(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    accounts = simulator.accounts(MASTODON)
    targets = simulator.targets(accounts)
    result = await mastodon.fetch(targets)
    legacy = [a for a in accounts if instance_of(a) == LEGACY]
    for t, account in zip(targets, accounts, strict=True):
        item = result.items[t.job_id]
        if account.handle in MOVED or account.handle in SUSPENDED:
            assert item.outcome is Outcome.NOT_FOUND
            why = "moved to smademo@mastodon.social" if account.handle in MOVED else "suspended"
            assert why in (item.error or "")
        else:
            assert item.outcome is Outcome.SUCCESS, item.error
            assert figures(item) == simulator.expected(account)
    # One batch call on the 4.3+ instance; the legacy one answers 404, then one call per account.
    assert _calls(simulator, SOCIAL, BATCH) == 1 and _calls(simulator, SOCIAL, SINGLE) == 0
    assert _calls(simulator, LEGACY, BATCH) == 1 and _calls(simulator, LEGACY, SINGLE) == len(legacy)
    assert result.api_calls == 2 + len(legacy)
    assert result.rate_limit is not None and result.rate_limit.limit == 300
    # The legacy instance is remembered: no second probe of its batch route.
    again = await mastodon.fetch(simulator.targets(accounts))
    assert again.api_calls == 1 + len(legacy)
    assert _calls(simulator, LEGACY, BATCH) == 1
    # ... until a day has passed.
    simulator.clock.advance(timedelta(days=1, seconds=1).total_seconds())
    await mastodon.fetch(simulator.targets(legacy))
    assert _calls(simulator, LEGACY, BATCH) == 2


async def test_batches_hold_at_most_40_ids(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_accounts_per_platform=100)
    adapter = MastodonAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        social = _trackable(simulator, SOCIAL)
        assert len(social) > 40
        result = await adapter.fetch(simulator.targets(social))
    finally:
        await adapter.close()
    assert _outcomes(result.items) == {Outcome.SUCCESS: len(social)}
    assert result.api_calls == _calls(simulator, SOCIAL, BATCH) == 2


async def test_unknown_ids_are_not_found_while_the_rest_succeed(
    simulator: Simulator, mastodon: MastodonAdapter
) -> None:
    known = simulator.targets([_trackable(simulator, SOCIAL)[0], _trackable(simulator, LEGACY)[0]])
    unknown = [target(f"{SOCIAL}:1"), target(f"{LEGACY}:2"), target("not-an-id"), target("@smademo@mastodon.social")]
    result = await mastodon.fetch([*known, *unknown])
    assert [result.items[t.job_id].outcome for t in known] == [Outcome.SUCCESS] * 2
    assert [result.items[t.job_id].outcome for t in unknown] == [Outcome.NOT_FOUND] * 4
    assert "no account 1 on mastodon.social" in (result.items[unknown[0].job_id].error or "")
    assert result.api_calls == 1 + 1 + 2  # social batch; legacy probe plus two single reads


async def test_a_hidden_count_is_no_point(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    hidden = [a for a in simulator.accounts(MASTODON) if a.handle in HIDDEN_COUNTS]
    result = await mastodon.fetch(simulator.targets(hidden))
    assert [set(figures(item)) for item in result.items.values()] == [{"posts"}]


async def test_429_with_an_iso_reset_stops_only_that_instance(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    await simulator.fault(platform="mastodon", kind="rate_limit", endpoint=f"{SOCIAL}/{BATCH}",
                          retry_after_seconds=120)
    social, legacy = _trackable(simulator, SOCIAL), _trackable(simulator, LEGACY)
    targets = simulator.targets([*social, *legacy])
    result = await mastodon.fetch(targets)
    assert [result.items[t.job_id].outcome for t in targets] == (
        [Outcome.RATE_LIMITED] * len(social) + [Outcome.SUCCESS] * len(legacy))
    assert result.rate_limit == RateLimitState(300, 0, START + timedelta(seconds=120))
    assert _calls(simulator, SOCIAL, BATCH) == 1  # a 429 is not retried
    assert simulator.sleeps == []


async def test_the_instance_budget_runs_out(start_simulator: StartSimulator) -> None:
    simulator = await start_simulator(simulator_mastodon_rate_limit=1)
    adapter = MastodonAdapter(simulator.platform_settings(), clock=simulator.clock, sleep=simulator.record_sleep)
    try:
        accounts = _trackable(simulator, SOCIAL)[:3]
        assert _outcomes((await adapter.fetch(simulator.targets(accounts))).items) == {Outcome.SUCCESS: 3}
        result = await adapter.fetch(simulator.targets(accounts))
        assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 3}
        assert result.rate_limit == RateLimitState(1, 0, START + timedelta(seconds=300))
    finally:
        await adapter.close()


async def test_a_5xx_burst_is_retried_then_recovers(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    accounts = _trackable(simulator, SOCIAL)[:5]
    await simulator.fault(platform="mastodon", kind="server_error", status=503, count=10)
    result = await mastodon.fetch(simulator.targets(accounts))
    assert _outcomes(result.items) == {Outcome.FAILED: 5}
    assert result.api_calls == 1 + MAX_RETRIES
    assert len(simulator.sleeps) == MAX_RETRIES
    await simulator.clear_faults()
    await simulator.fault(platform="mastodon", kind="server_error", count=2)
    recovered = await mastodon.fetch(simulator.targets(accounts))
    assert _outcomes(recovered.items) == {Outcome.SUCCESS: 5}
    assert recovered.api_calls == 3


async def test_a_timeout_on_one_instance_touches_only_its_accounts(
    simulator: Simulator, mastodon: MastodonAdapter
) -> None:
    await simulator.fault(platform="mastodon", kind="timeout", endpoint=f"{LEGACY}/{BATCH}", delay_seconds=10)
    social, legacy = _trackable(simulator, SOCIAL)[:3], _trackable(simulator, LEGACY)[:3]
    result = await mastodon.fetch(simulator.targets([*social, *legacy]))
    assert [i.outcome for i in result.items.values()] == [Outcome.SUCCESS] * 3 + [Outcome.TIMEOUT] * 3


async def test_an_unauthorized_instance_is_an_auth_error(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    await simulator.fault(platform="mastodon", kind="unauthorized", endpoint=f"{SOCIAL}/{BATCH}")
    result = await mastodon.fetch(simulator.targets(_trackable(simulator, SOCIAL)[:2]))
    assert _outcomes(result.items) == {Outcome.AUTH_ERROR: 2}


@pytest.mark.parametrize(
    "account",
    ["@smademo@mastodon.social", "smademo@mastodon.social", "SMADemo@Mastodon.social",
     "https://mastodon.social/@smademo", "mastodon.social/@smademo/with_replies"],
)
async def test_resolve_variants(simulator: Simulator, mastodon: MastodonAdapter, account: str) -> None:
    demo = next(a for a in simulator.accounts(MASTODON) if a.handle == "smademo@mastodon.social")
    assert await mastodon.resolve(account) == ResolvedAccount(MASTODON, demo.id, demo.handle, "SMA Demo")
    assert _calls(simulator, SOCIAL, "api/v1/accounts/lookup") == 1


async def test_resolve_on_a_legacy_instance(simulator: Simulator, mastodon: MastodonAdapter) -> None:
    old = next(a for a in simulator.accounts(MASTODON) if a.handle == "smaold@legacy.example")
    resolved = await mastodon.resolve("@smaold@legacy.example")
    assert resolved == ResolvedAccount(MASTODON, old.id, "smaold@legacy.example", old.display_name)
    assert resolved.external_id.startswith("legacy.example:")


@pytest.mark.parametrize(
    "account",
    ["@nobody@mastodon.social", "@smademo@legacy.example", "@smamoved@legacy.example",
     "@smabanned@mastodon.social", "smademo", "https://mastodon.social/users/smademo"],
)
async def test_resolve_unknown_is_not_found(mastodon: MastodonAdapter, account: str) -> None:
    with pytest.raises(NotFound):
        await mastodon.resolve(account)
