"""The gateway's own Prometheus metrics, declared once against the service registry. (Request
counts and latency by route are `sma_gateway_http_*`, from the request middleware every service
shares; see `sma_common.metrics.HttpMetrics`.)"""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter

from sma_common.metrics import Tally

CacheResult = Literal["local", "hit", "miss", "coalesced", "error", "bypass"]
AuthFailure = Literal["missing", "malformed", "unknown_key", "scope"]


class GatewayMetrics:
    """`record_*` methods are the only way code touches these metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._cache_requests = Tally(
            "sma_gateway_cache_requests",
            "Cached reads by result: local (served from this process's memory), hit (from Redis), miss "
            "(loaded from Postgres), coalesced (a read that shared another request's Redis read or load), error (Redis "
            "failed on this request), bypass (Redis skipped after a recent failure).",
            "result", get_args(CacheResult), registry,
        )
        self._auth_failures = Counter(
            "sma_gateway_auth_failures",
            "Rejected API requests by reason: missing, malformed (not a Bearer sma_ token), unknown_key "
            "(unknown, revoked or wrong secret), scope (403: the key lacks the scope).",
            ["reason"],
            registry=registry,
        )
        self._rate_limited = Counter(
            "sma_gateway_rate_limited_requests",
            "Requests refused with 429 because their API key was over its rate limit.",
            registry=registry,
        )
        for reason in get_args(AuthFailure):
            self._auth_failures.labels(reason)

    def record_cache(self, result: CacheResult) -> None:
        self._cache_requests.counts[result] += 1

    def record_auth_failure(self, reason: AuthFailure) -> None:
        self._auth_failures.labels(reason).inc()

    def record_rate_limited(self) -> None:
        self._rate_limited.inc()
