"""Per-target bookkeeping for one fetch: every target ends with exactly one `ItemResult`.

Adapters record outcomes as they learn them (first word wins), fail whatever is still open
when a batch-wide call fails, and `build()` turns the record into the `FetchResult`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sma_common.errors import AuthRejected, RateLimited
from sma_platforms.base import FetchResult, FetchTarget, ItemResult, Observation, Outcome
from sma_platforms.http import AuthHeld, CallLog, classify

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BatchResults:
    """The outcomes of one batch so far."""

    def __init__(self, targets: Sequence[FetchTarget]) -> None:
        self._targets = tuple(targets)
        self._items: dict[uuid.UUID, ItemResult] = {}
        # Set when the platform itself rejected our credentials during this batch (not when a
        # hold refused the call): the caller then holds the credential's budget.
        self.credentials_rejected = False

    def pending(self, among: Iterable[FetchTarget] | None = None) -> list[FetchTarget]:
        """Targets (of `among`, default all) that have no outcome yet."""
        return [t for t in (self._targets if among is None else among) if t.job_id not in self._items]

    def succeed(self, target: FetchTarget, observations: Iterable[Observation]) -> None:
        self._items.setdefault(target.job_id, ItemResult(Outcome.SUCCESS, tuple(observations)))

    def fail(self, targets: Iterable[FetchTarget], outcome: Outcome, error: str,
             retry_after: float | None = None) -> None:
        for target in targets:
            self._items.setdefault(target.job_id, ItemResult(outcome, (), error, retry_after))

    def fail_with(self, targets: Iterable[FetchTarget], error: BaseException) -> None:
        """Fail targets with the outcome the error classifies as, and its message."""
        if isinstance(error, AuthRejected) and not isinstance(error, AuthHeld):
            self.credentials_rejected = True
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        self.fail(targets, classify(error), str(error) or type(error).__name__, retry_after)

    def build(self, log: CallLog, observed_at: datetime) -> FetchResult:
        # Defensive: a code path that forgot a target must not drop its job silently.
        self.fail(self.pending(), Outcome.FAILED, "no result recorded for this account")
        items = {t.job_id: self._items[t.job_id] for t in self._targets}
        return FetchResult(items=items, api_calls=log.api_calls, observed_at=observed_at, rate_limit=log.rate_limit)


def halts_batch(error: BaseException) -> bool:
    """Errors after which further calls in the same batch would only fail the same way."""
    return classify(error) in (Outcome.RATE_LIMITED, Outcome.AUTH_ERROR)
