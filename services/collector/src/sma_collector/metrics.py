"""The collector's metrics, declared once against the service registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sma_common.metrics import LATENCY_BUCKETS
from sma_common.platforms import Platform


@dataclass(frozen=True)
class CollectorMetrics:
    commands: Counter
    executions: Counter
    points_written: Counter
    api_calls: Counter
    fetch_duration: Histogram
    consumer_lag: Gauge
    dead_letters: Counter
    cache_invalidations: Counter
    retries: Counter
    in_flight: Gauge
    ratelimit_remaining: Gauge
    rate_limited: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CollectorMetrics:
        metrics = cls._declare(registry)
        # Zero from the start, so a rate of it (and `grep` in the runbook) works before any limit hits.
        for platform in Platform:
            metrics.rate_limited.labels(platform.value)
        return metrics

    @classmethod
    def _declare(cls, registry: CollectorRegistry) -> CollectorMetrics:
        return cls(
            commands=Counter("sma_collector_commands_total",
                             "Fetch commands handled, by platform and result (processed, duplicate, expired).",
                             ["platform", "result"], registry=registry),
            executions=Counter("sma_collector_executions_total", "Job executions recorded, by platform and status.",
                               ["platform", "status"], registry=registry),
            points_written=Counter("sma_collector_points_written_total", "Metric points written, by platform.",
                                   ["platform"], registry=registry),
            api_calls=Counter("sma_collector_api_calls_total", "Platform API calls made, by platform.",
                              ["platform"], registry=registry),
            fetch_duration=Histogram("sma_collector_fetch_duration_seconds",
                                     "Time to fetch one command's batch from the platform.", ["platform"],
                                     buckets=LATENCY_BUCKETS, registry=registry),
            consumer_lag=Gauge("sma_collector_consumer_lag_messages",
                               "Messages not yet consumed on this collector's assigned partitions.", registry=registry),
            dead_letters=Counter("sma_collector_dead_letters_total",
                                 "Commands sent to the dead-letter topic: undecodable, or refused by the database "
                                 "for good.", registry=registry),
            cache_invalidations=Counter("sma_collector_cache_invalidations_total",
                                        "Cache invalidations after writing points, by result (ok, skipped).",
                                        ["result"], registry=registry),
            retries=Counter("sma_collector_retries_total",
                            "Command writes or deliveries retried after a database or broker failure.",
                            registry=registry),
            in_flight=Gauge("sma_collector_commands_in_flight", "Commands being handled by this process right now.",
                            registry=registry),
            ratelimit_remaining=Gauge("sma_collector_ratelimit_remaining",
                                      "Calls (YouTube: quota units) left in the platform's shared budget, as of "
                                      "this process's last call.", ["platform"], registry=registry),
            rate_limited=Counter("sma_collector_rate_limited_total",
                                 "Times the platform's rate limit stopped a fetch: a 429 or quota error received, "
                                 "or a batch refused by the spent shared budget.", ["platform"], registry=registry),
        )

    # The budget listener (sma_platforms.budget.BudgetListener): the gates report here.
    def remaining(self, platform: Platform, tokens: float) -> None:
        self.ratelimit_remaining.labels(platform.value).set(tokens)

    def limited(self, platform: Platform) -> None:
        self.rate_limited.labels(platform.value).inc()
