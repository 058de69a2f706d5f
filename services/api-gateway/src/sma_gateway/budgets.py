"""The platforms' shared budgets as `GET /api/platforms` shows them: what is left, when it
resets, and which credentials or instances are on hold (after a 429, a spent quota or rejected
credentials), read from the Redis state every collector replica writes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import structlog

from sma_common.cache_versions import REDIS_FAILURES, RedisBreaker
from sma_common.clock import Clock
from sma_common.platforms import Platform
from sma_common.rate_limit import SharedRateLimiter
from sma_gateway.schemas import BudgetOut, HoldOut, PlatformOut, PlatformStatus
from sma_platforms import PlatformAdapter
from sma_platforms.budget import BudgetGate

log = structlog.get_logger(__name__)


class BudgetReader:
    def __init__(self, limiter: SharedRateLimiter, gates: Mapping[Platform, BudgetGate],
                 adapters: Mapping[Platform, PlatformAdapter], breaker: RedisBreaker, clock: Clock) -> None:
        self._limiter, self._gates, self._adapters = limiter, gates, adapters
        self._breaker, self._clock = breaker, clock

    async def platform(self, platform: Platform) -> PlatformOut:
        adapter = self._adapters.get(platform)
        configured = adapter is not None and adapter.is_configured
        gate = self._gates[platform]
        budget = BudgetOut(limit=gate.budget.capacity, window_seconds=gate.budget.window_seconds,
                           kind="token_bucket" if gate.budget.bucket else "fixed_window")
        if adapter is None or not configured:
            return PlatformOut(platform=platform, configured=False, status="unconfigured", budget=budget)
        if not self._breaker.allows():
            return PlatformOut(platform=platform, configured=True, status="unknown", budget=budget)
        now = self._clock.now().timestamp()
        try:
            holds = await self._limiter.holds(platform.value, now)
            state = await self._limiter.state(platform.value, adapter.budget_scope) if adapter.budget_scope else None
        except REDIS_FAILURES as exc:
            self._breaker.trip()
            log.warning("platforms.budget_state_unavailable", error=repr(exc))
            return PlatformOut(platform=platform, configured=True, status="unknown", budget=budget)
        status: PlatformStatus = "ok"
        if state is not None:
            budget = budget.model_copy(update={
                "remaining": state.remaining(gate.budget, now),
                "resets_at": _utc(state.window_end) if state.window_end and state.window_end > now else None,
            })
            if state.held(now):
                status = "auth_error" if state.frozen_reason == "auth_error" else "rate_limited"
        hold_list = [HoldOut(scope=h.scope if not adapter.budget_scope else None, until=_utc(h.until),
                             reason=h.reason or "rate_limited") for h in holds]
        return PlatformOut(platform=platform, configured=True, status=status, budget=budget, holds=hold_list)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
