"""The shared platform budgets end to end: real adapters ("replicas", each with its own HTTP
client and gate) against the in-process platform simulator, their gates sharing one budget per
(platform, scope) through a real Redis, and every clock the simulator's FakeClock.

What is checked is what the platform sees: no request beyond the budget, none while a 429, a
spent quota or rejected credentials hold the budget, and calls again once the hold ends."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from pydantic import SecretStr

from sma_common.errors import AuthRejected
from sma_common.platforms import Platform
from sma_common.rate_limit import Hold, SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.settings import PlatformSettings, RedisSettings
from sma_platforms import ItemResult, Outcome
from sma_platforms.adapter import HttpAdapter, credential_digest
from sma_platforms.budget import BudgetGate, build_gates, platform_budgets
from sma_platforms.http import AuthHeld
from sma_platforms.mastodon import MastodonAdapter
from sma_platforms.registry import build_adapters
from sma_platforms.x import XAdapter
from sma_platforms.youtube import YouTubeAdapter
from sma_platforms.youtube.parse import quota_reset_at
from sma_simulator.profiles.mastodon import MOVED, SUSPENDED, instance_of
from sma_simulator.state import SimAccount
from tests.integration.platforms.conftest import START, StartSimulator
from tests.integration.platforms.harness import Simulator

X, YOUTUBE, MASTODON, BLUESKY = Platform.X, Platform.YOUTUBE, Platform.MASTODON, Platform.BLUESKY
SOCIAL, LEGACY = "mastodon.social", "legacy.example"
# The simulator's clock starts at 2026-03-01 12:00 UTC, the start of a 15-minute X window;
# it is 04:00 in Los Angeles (PST), so YouTube's quota day ends at 08:00 UTC the next day.
X_WINDOW_END = START + timedelta(minutes=15)
PACIFIC_MIDNIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
A = TypeVar("A", bound=HttpAdapter)


class Listener:
    """A `BudgetListener` that remembers what it heard."""

    def __init__(self) -> None:
        self.limited_count: Counter[Platform] = Counter()
        self.tokens: list[float] = []

    def remaining(self, platform: Platform, tokens: float) -> None:
        self.tokens.append(tokens)

    def limited(self, platform: Platform) -> None:
        self.limited_count[platform] += 1


class Replicas:
    """Builds adapters as separate replicas would have them: own HTTP client, own gate."""

    def __init__(self, simulator: Simulator, limiter: SharedRateLimiter | None) -> None:
        self.simulator, self.limiter = simulator, limiter
        self._adapters: list[HttpAdapter] = []

    def settings(self, **overrides: object) -> PlatformSettings:
        return self.simulator.platform_settings(**overrides)

    def gate(
        self, platform: Platform, settings: PlatformSettings, *, max_wait: float = 0.0,
        listener: Listener | None = None, waits: list[float] | None = None,
    ) -> BudgetGate:
        """A gate on the simulator's clock; with `waits`, waiting for the budget advances that
        clock (and is recorded) instead of sleeping."""
        if waits is None:
            return build_gates(self.limiter, settings, clock=self.simulator.clock, max_wait=max_wait,
                               listener=listener)[platform]
        clock = self.simulator.clock

        async def advance(seconds: float) -> None:
            waits.append(seconds)
            clock.advance(seconds)

        return BudgetGate(self.limiter, platform, platform_budgets(settings)[platform], clock=clock,
                          max_wait=max_wait, auth_hold_seconds=settings.platform_auth_error_hold_seconds,
                          listener=listener, sleep=advance)

    def add(
        self, factory: Callable[..., A], *, max_wait: float = 0.0, listener: Listener | None = None,
        waits: list[float] | None = None, **overrides: object,
    ) -> A:
        settings = self.settings(**overrides)
        adapter = factory(settings, clock=self.simulator.clock, sleep=self.simulator.record_sleep)
        adapter.use_budget(self.gate(adapter.platform, settings, max_wait=max_wait, listener=listener, waits=waits))
        self._adapters.append(adapter)
        return adapter

    async def close(self) -> None:
        for adapter in self._adapters:
            await adapter.close()


ReplicaFactory = Callable[..., Awaitable[Replicas]]


@pytest.fixture
async def start_replicas(
    start_simulator: StartSimulator, limiter: SharedRateLimiter
) -> AsyncIterator[ReplicaFactory]:
    made: list[Replicas] = []

    async def start(limiter_: SharedRateLimiter | None = limiter, **simulator_settings: object) -> Replicas:
        replicas = Replicas(await start_simulator(**simulator_settings), limiter_)
        made.append(replicas)
        return replicas

    yield start
    for replicas in made:
        await replicas.close()


def _outcomes(items: Mapping[uuid.UUID, ItemResult]) -> Counter[Outcome]:
    return Counter(item.outcome for item in items.values())


def _errors(items: Mapping[uuid.UUID, ItemResult]) -> str:
    return " | ".join(sorted({item.error or "" for item in items.values()}))


def _client_errors(simulator: Simulator, platform: Platform) -> float:
    """4xx answers the simulator sent on `platform` (429s among them)."""
    return sum(
        sample.value
        for metric in simulator.registry.collect() if metric.name == "sma_simulator_requests"
        for sample in metric.samples
        if sample.name == "sma_simulator_requests_total" and sample.labels["platform"] == platform.value
        and sample.labels["status_class"] == "4xx"
    )


def _now(simulator: Simulator) -> float:
    return simulator.clock.now().timestamp()


# --- (a) a budget shared by replicas is never overspent ---


async def test_replicas_sharing_a_budget_never_call_beyond_it(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas()
    sim, listener = replicas.simulator, Listener()
    one = replicas.add(XAdapter, x_rate_limit_per_15_minutes=3, listener=listener)
    two = replicas.add(XAdapter, x_rate_limit_per_15_minutes=3, listener=listener)
    targets = sim.targets(sim.accounts(X)[:4])

    results = [await adapter.fetch(targets) for adapter in (one, two, one, two, one, two)]

    assert [r.api_calls for r in results] == [1, 1, 1, 0, 0, 0]
    assert [_outcomes(r.items) for r in results] == [{Outcome.SUCCESS: 4}] * 3 + [{Outcome.RATE_LIMITED: 4}] * 3
    assert "budget spent" in _errors(results[-1].items)
    assert sim.requests(X) == 3 and _client_errors(sim, X) == 0
    assert listener.tokens == [2, 1, 0] and listener.limited_count[X] == 3
    # The next window: both replicas call again.
    sim.clock.advance((X_WINDOW_END - sim.clock.now()).total_seconds())
    assert _outcomes((await two.fetch(targets)).items) == {Outcome.SUCCESS: 4}
    assert _outcomes((await one.fetch(targets)).items) == {Outcome.SUCCESS: 4}
    assert sim.requests(X) == 5 and _client_errors(sim, X) == 0


async def test_concurrent_batches_on_replicas_spend_exactly_the_budget(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    adapters = [replicas.add(XAdapter, x_rate_limit_per_15_minutes=5) for _ in range(3)]
    targets = sim.targets(sim.accounts(X)[:2])

    results = await asyncio.gather(*(adapters[n % 3].fetch(targets) for n in range(12)))

    assert sorted(r.api_calls for r in results) == [0] * 7 + [1] * 5
    assert sum(_outcomes(r.items)[Outcome.SUCCESS] for r in results) == 5 * 2
    assert sim.requests(X) == 5 and _client_errors(sim, X) == 0


# --- (b) a 429 seen by one replica holds every replica until the reset ---


async def test_a_429_on_one_replica_holds_the_other_until_the_reset(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    one, two = replicas.add(XAdapter), replicas.add(XAdapter)
    targets = sim.targets(sim.accounts(X)[:3])
    await sim.fault(platform="x", kind="rate_limit", retry_after_seconds=120)

    first = await one.fetch(targets)
    assert _outcomes(first.items) == {Outcome.RATE_LIMITED: 3} and first.api_calls == 1
    scope = credential_digest(sim.ctx.settings.simulator_x_bearer_token.get_secret_value())
    assert await limiter.holds("x", _now(sim)) == [Hold(scope, _now(sim) + 120, "rate_limited")]

    sim.clock.advance(119)
    for adapter in (two, one):
        held = await adapter.fetch(targets)
        assert _outcomes(held.items) == {Outcome.RATE_LIMITED: 3} and held.api_calls == 0
        assert "rate_limited; calls resume at 2026-03-01T12:02:00" in _errors(held.items)
    assert sim.requests(X) == 1

    sim.clock.advance(1)
    resumed = await two.fetch(targets)
    assert _outcomes(resumed.items) == {Outcome.SUCCESS: 3} and resumed.api_calls == 1
    assert await limiter.holds("x", _now(sim)) == []


async def test_a_replica_that_may_wait_sleeps_through_the_hold_then_calls(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas()
    sim, waits = replicas.simulator, list[float]()
    one = replicas.add(XAdapter)
    patient = replicas.add(XAdapter, max_wait=180, waits=waits)
    targets = sim.targets(sim.accounts(X)[:3])
    await sim.fault(platform="x", kind="rate_limit", retry_after_seconds=120)
    assert _outcomes((await one.fetch(targets)).items) == {Outcome.RATE_LIMITED: 3}

    result = await patient.fetch(targets)

    assert _outcomes(result.items) == {Outcome.SUCCESS: 3} and result.api_calls == 1
    assert len(waits) == 1 and 120 <= waits[0] <= 121  # the hold plus at most a second of jitter
    assert sim.requests(X) == 2 and sim.clock.now() >= START + timedelta(seconds=120)


async def test_a_hold_longer_than_the_wait_is_refused_at_once(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas()
    sim, waits = replicas.simulator, list[float]()
    one = replicas.add(XAdapter)
    hasty = replicas.add(XAdapter, max_wait=60, waits=waits)
    await sim.fault(platform="x", kind="rate_limit", retry_after_seconds=120)
    targets = sim.targets(sim.accounts(X)[:2])
    await one.fetch(targets)

    result = await hasty.fetch(targets)

    assert _outcomes(result.items) == {Outcome.RATE_LIMITED: 2} and result.api_calls == 0
    assert waits == [] and sim.clock.now() == START


# --- (c) the platform's headers correct the budget ---


async def test_the_platforms_headers_stop_us_before_a_429(start_replicas: ReplicaFactory) -> None:
    # The platform allows 2 calls a window where we believe in 300, and our first call comes
    # 100 s into its window: its `x-rate-limit-reset` replaces the end we guessed.
    replicas = await start_replicas(simulator_x_rate_limit=2)
    sim, waits = replicas.simulator, list[float]()
    one, two = replicas.add(XAdapter), replicas.add(XAdapter)
    patient = replicas.add(XAdapter, max_wait=900, waits=waits)
    targets = sim.targets(sim.accounts(X)[:3])
    sim.clock.advance(100)

    assert [(await a.fetch(targets)).api_calls for a in (one, two)] == [1, 1]
    spent = await one.fetch(targets)
    assert _outcomes(spent.items) == {Outcome.RATE_LIMITED: 3} and spent.api_calls == 0
    assert "calls resume at 2026-03-01T12:15:00" in _errors(spent.items)

    # A replica that may wait sleeps until the platform's reset, not until our guess (12:16:40).
    waited = await patient.fetch(targets)
    assert _outcomes(waited.items) == {Outcome.SUCCESS: 3} and waited.api_calls == 1
    assert len(waits) == 1 and 800 <= waits[0] <= 801
    assert sim.clock.now() < X_WINDOW_END + timedelta(seconds=2)
    assert sim.requests(X) == 3 and _client_errors(sim, X) == 0


async def test_a_mastodon_instance_reports_its_remaining_calls(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas(simulator_mastodon_rate_limit=1)
    sim = replicas.simulator
    one, two = replicas.add(MastodonAdapter), replicas.add(MastodonAdapter)
    social = sim.targets(_trackable(sim, SOCIAL))

    assert (await one.fetch(social)).api_calls == 1
    spent = await two.fetch(social)
    assert _outcomes(spent.items) == {Outcome.RATE_LIMITED: len(social)} and spent.api_calls == 0
    assert _client_errors(sim, MASTODON) == 0
    sim.clock.advance(300)  # the instance's next window
    assert _outcomes((await two.fetch(social)).items) == {Outcome.SUCCESS: len(social)}


# --- (d) YouTube's spent quota holds every replica until midnight Pacific ---


async def test_a_spent_youtube_quota_holds_every_replica_until_midnight_pacific(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    replicas = await start_replicas(simulator_youtube_daily_quota=1)
    sim = replicas.simulator
    one, two = replicas.add(YouTubeAdapter), replicas.add(YouTubeAdapter)
    targets = sim.targets(sim.accounts(YOUTUBE)[:3])
    assert quota_reset_at(sim.clock.now()) == PACIFIC_MIDNIGHT

    assert _outcomes((await one.fetch(targets)).items) == {Outcome.SUCCESS: 3}
    exceeded = await one.fetch(targets)
    assert _outcomes(exceeded.items) == {Outcome.RATE_LIMITED: 3} and exceeded.api_calls == 1
    scope = credential_digest(sim.ctx.settings.simulator_youtube_api_key.get_secret_value())
    assert await limiter.holds("youtube", _now(sim)) == [Hold(scope, PACIFIC_MIDNIGHT.timestamp(), "quota")]

    sim.clock.advance(12 * 3600)  # 16:00 in Los Angeles: still the same quota day
    for adapter in (two, one):
        held = await adapter.fetch(targets)
        assert _outcomes(held.items) == {Outcome.RATE_LIMITED: 3} and held.api_calls == 0
        assert "youtube quota; calls resume at 2026-03-02T08:00:00" in _errors(held.items)
    assert sim.requests(YOUTUBE) == 2

    sim.clock.advance((PACIFIC_MIDNIGHT - sim.clock.now()).total_seconds())
    assert _outcomes((await two.fetch(targets)).items) == {Outcome.SUCCESS: 3}
    assert await limiter.holds("youtube", _now(sim)) == []


async def test_our_youtube_quota_ends_at_midnight_pacific(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    # YouTube sends no rate-limit headers: our own count stops us, and renews at midnight Pacific.
    replicas = await start_replicas()
    sim = replicas.simulator
    one, two = (replicas.add(YouTubeAdapter, youtube_daily_quota_units=1) for _ in range(2))
    targets = sim.targets(sim.accounts(YOUTUBE)[:2])
    assert (await one.fetch(targets)).api_calls == 1
    scope = credential_digest(sim.ctx.settings.simulator_youtube_api_key.get_secret_value())
    assert (await limiter.state("youtube", scope)).window_end == PACIFIC_MIDNIGHT.timestamp()
    assert (await two.fetch(targets)).api_calls == 0
    sim.clock.advance((PACIFIC_MIDNIGHT - sim.clock.now()).total_seconds())
    assert (await two.fetch(targets)).api_calls == 1


# --- (e) rejected credentials hold every replica for the auth hold ---


async def test_rejected_credentials_hold_every_replica_without_a_call(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    one, two = replicas.add(XAdapter), replicas.add(XAdapter)
    targets = sim.targets(sim.accounts(X)[:3])
    await sim.fault(platform="x", kind="unauthorized")

    rejected = await one.fetch(targets)
    assert _outcomes(rejected.items) == {Outcome.AUTH_ERROR: 3} and rejected.api_calls == 1
    [hold] = await limiter.holds("x", _now(sim))
    assert (hold.until, hold.reason) == (_now(sim) + 300, "auth_error")

    sim.clock.advance(299)
    held = await two.fetch(targets)
    assert _outcomes(held.items) == {Outcome.AUTH_ERROR: 3} and held.api_calls == 0
    assert "x rejected our credentials" in _errors(held.items)
    with pytest.raises(AuthHeld):
        await two.resolve("2244994945")
    assert sim.requests(X) == 1
    # A refusal by the hold is not a rejection: it does not extend the hold.
    assert (await limiter.holds("x", _now(sim)))[0].until == hold.until

    sim.clock.advance(1)
    assert _outcomes((await two.fetch(targets)).items) == {Outcome.SUCCESS: 3}


async def test_a_wrong_token_holds_only_its_own_budget(start_replicas: ReplicaFactory) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    wrong = SecretStr("not-the-token")
    one, two = replicas.add(XAdapter, x_bearer_token=wrong), replicas.add(XAdapter, x_bearer_token=wrong)
    right = replicas.add(XAdapter)
    targets = sim.targets(sim.accounts(X)[:2])

    first = await one.fetch(targets)
    assert _outcomes(first.items) == {Outcome.AUTH_ERROR: 2} and first.api_calls == 1
    second = await two.fetch(targets)
    assert _outcomes(second.items) == {Outcome.AUTH_ERROR: 2} and second.api_calls == 0
    with pytest.raises(AuthRejected):
        await one.resolve("@XDevelopers")
    assert sim.requests(X) == 1
    # The budget is the credential's: the right token is not held.
    assert _outcomes((await right.fetch(targets)).items) == {Outcome.SUCCESS: 2}
    # After the hold, the wrong token costs one call again, and is held again.
    sim.clock.advance(300)
    assert (await two.fetch(targets)).api_calls == 1
    assert (await one.fetch(targets)).api_calls == 0
    assert sim.requests(X) == 3


# --- (f) Mastodon budgets are per instance ---


def _trackable(simulator: Simulator, instance: str) -> list[SimAccount]:
    return [a for a in simulator.accounts(MASTODON)
            if a.handle not in SUSPENDED and a.handle not in MOVED and instance_of(a) == instance]


async def test_a_429_on_one_mastodon_instance_does_not_hold_another(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    one, two = replicas.add(MastodonAdapter), replicas.add(MastodonAdapter)
    social, legacy = sim.targets(_trackable(sim, SOCIAL)), sim.targets(_trackable(sim, LEGACY))
    await sim.fault(platform="mastodon", kind="rate_limit", endpoint=f"{SOCIAL}/api/v1/accounts",
                    retry_after_seconds=120)

    both = await one.fetch([*social, *legacy])
    assert {t.job_id for t in social} == {j for j, i in both.items.items() if i.outcome is Outcome.RATE_LIMITED}
    assert {t.job_id for t in legacy} == {j for j, i in both.items.items() if i.outcome is Outcome.SUCCESS}
    [hold] = await limiter.holds("mastodon", _now(sim))
    assert (hold.scope, hold.until, hold.reason) == (SOCIAL, _now(sim) + 120, "rate_limited")

    calls = sim.requests(MASTODON)
    held = await two.fetch(social)
    assert _outcomes(held.items) == {Outcome.RATE_LIMITED: len(social)} and held.api_calls == 0
    assert sim.requests(MASTODON) == calls
    free = await two.fetch(legacy)
    # (A new replica probes the legacy instance's batch route once, then reads one by one.)
    assert _outcomes(free.items) == {Outcome.SUCCESS: len(legacy)} and free.api_calls == 1 + len(legacy)

    sim.clock.advance(120)
    assert _outcomes((await two.fetch(social)).items) == {Outcome.SUCCESS: len(social)}


# --- (g) without Redis, fetching goes on and holds are this process's own ---


async def test_without_redis_fetching_goes_on_and_a_429_holds_locally(
    start_replicas: ReplicaFactory, redis_prefix: str
) -> None:
    down = RedisClient(RedisSettings(redis_url="redis://127.0.0.1:1/0", redis_key_prefix=redis_prefix),
                       required=False)
    await down.start()
    try:
        replicas = await start_replicas(SharedRateLimiter(down))
        sim = replicas.simulator
        one, two = replicas.add(XAdapter, x_rate_limit_per_15_minutes=1), replicas.add(XAdapter)
        targets = sim.targets(sim.accounts(X)[:3])

        # The budget of 1 is Redis's to count: without it, calls go on.
        for _ in range(2):
            assert _outcomes((await one.fetch(targets)).items) == {Outcome.SUCCESS: 3}
        await sim.fault(platform="x", kind="rate_limit", retry_after_seconds=120)
        assert _outcomes((await one.fetch(targets)).items) == {Outcome.RATE_LIMITED: 3}
        held = await one.fetch(targets)
        assert _outcomes(held.items) == {Outcome.RATE_LIMITED: 3} and held.api_calls == 0
        assert sim.requests(X) == 3
        # The hold is this process's own: another replica does not hear of it.
        assert _outcomes((await two.fetch(targets)).items) == {Outcome.SUCCESS: 3}
        sim.clock.advance(120)
        assert _outcomes((await one.fetch(targets)).items) == {Outcome.SUCCESS: 3}
    finally:
        await down.stop()


# --- wiring ---


async def test_build_adapters_admits_every_platforms_calls_through_its_gate(
    start_replicas: ReplicaFactory, limiter: SharedRateLimiter
) -> None:
    replicas = await start_replicas()
    sim = replicas.simulator
    settings = replicas.settings(bluesky_rate_limit_per_5_minutes=1)
    adapters = [build_adapters(settings, gates=build_gates(limiter, settings, clock=sim.clock, max_wait=0))
                for _ in range(2)]
    try:
        targets = sim.targets(sim.accounts(BLUESKY)[:2])
        assert _outcomes((await adapters[0][BLUESKY].fetch(targets)).items) == {Outcome.SUCCESS: 2}
        spent = await adapters[1][BLUESKY].fetch(targets)
        assert _outcomes(spent.items) == {Outcome.RATE_LIMITED: 2} and spent.api_calls == 0
        assert (await limiter.state("bluesky", "public")).tokens == 0
    finally:
        for built in adapters:
            for adapter in built.values():
                await adapter.close()
