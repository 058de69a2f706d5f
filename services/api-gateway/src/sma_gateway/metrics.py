"""The gateway's own Prometheus metrics, declared once against the service registry."""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter

CacheResult = Literal["hit", "miss", "error", "bypass"]


class GatewayMetrics:
    """`record_*` methods are the only way code touches these metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._cache_requests = Counter(
            "sma_gateway_cache_requests",
            "Cached reads by result: hit, miss (loaded from Postgres), error (Redis failed on this "
            "request), bypass (Redis skipped after a recent failure).",
            ["result"],
            registry=registry,
        )
        for result in get_args(CacheResult):
            self._cache_requests.labels(result)

    def record_cache(self, result: CacheResult) -> None:
        self._cache_requests.labels(result).inc()
