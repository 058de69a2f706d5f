"""The platform adapter contract: what the collector and the gateway may rely on.

Values crossing the boundary are frozen dataclasses; the adapter itself is a Protocol so each
platform package implements it without inheriting anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sma_common.platforms import Platform


class Outcome(StrEnum):
    """How one account's fetch ended; exactly the `job_executions.status` values."""

    SUCCESS = "success"
    FAILED = "failed"
    RATE_LIMITED = "rate_limited"
    AUTH_ERROR = "auth_error"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class FetchTarget:
    """One account to refresh, as the scheduler put it in the fetch command."""

    job_id: uuid.UUID
    account_id: int
    external_id: str
    handle: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One figure read from the platform; `metric` is a name from `sma_common.platforms.METRIC_IDS`."""

    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class ItemResult:
    outcome: Outcome
    observations: tuple[Observation, ...] = ()
    error: str | None = None
    # rate_limited: seconds until the platform takes calls again, when it said (the job is next
    # due then, not at its interval).
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The platform's own view of our budget, as its response headers reported it."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one batch.

    Attributes:
        items: one entry for every target, keyed by `job_id`.
        api_calls: HTTP requests sent to the platform's API for this batch, retries included
            (token requests are not API calls: they do not spend the API's rate budget).
        observed_at: when the figures were read (tz-aware UTC); the timestamp of every point.
        rate_limit: the tightest rate-limit state the platform reported during the batch
            (fewest requests remaining), if it reported any.
    """

    items: dict[uuid.UUID, ItemResult]
    api_calls: int
    observed_at: datetime
    rate_limit: RateLimitState | None = None


@dataclass(frozen=True, slots=True)
class ResolvedAccount:
    """A handle, URL or id resolved to the platform's immutable id (Twitch user id, Bluesky DID)."""

    platform: Platform
    external_id: str
    handle: str
    display_name: str | None


class PlatformAdapter(Protocol):
    """One platform's client: batching, auth, retries, parsing and outcome classification.

    Adapters own one lazily created `aiohttp.ClientSession`; `close()` releases it and may be
    called more than once. An adapter is safe to use from concurrent tasks on one event loop.

    `fetch(targets)` reads the current figures of up to `max_batch_size` accounts (larger
    batches are split). It never raises for platform or network errors: every target gets an
    `ItemResult` whose outcome classifies what happened to it (an unknown account is
    `not_found` while the rest of the batch succeeds; a batch-wide failure such as a 429 gives
    every remaining target the same outcome). Transient HTTP failures (5xx, connection errors)
    are retried inside the adapter a bounded number of times; callers must not retry on top.
    Cancellation propagates: a cancelled fetch returns nothing.

    `resolve(account)` turns a handle, profile URL or platform id into a `ResolvedAccount`.
    It raises `sma_common.errors.NotFound` (unknown or malformed account), `AuthRejected`,
    `RateLimited` (with `retry_after` seconds when known), `UpstreamUnavailable`,
    `DependencyTimeout`, or `ConfigurationError` when the platform has no credentials.
    """

    platform: Platform
    max_batch_size: int
    # Whose shared budget the calls spend (the credential's id or digest); "" when every call
    # names its own (Mastodon: one budget per instance).
    budget_scope: str

    @property
    def is_configured(self) -> bool: ...

    async def fetch(self, targets: Sequence[FetchTarget]) -> FetchResult: ...

    async def resolve(self, account: str) -> ResolvedAccount: ...

    async def close(self) -> None: ...
