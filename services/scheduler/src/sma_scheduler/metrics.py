"""The scheduler's metrics, declared once against the service registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sma_common.metrics import LATENCY_BUCKETS


@dataclass(frozen=True)
class SchedulerMetrics:
    ticks: Counter
    tick_duration: Histogram
    jobs_dispatched: Counter
    commands_dispatched: Counter
    dispatch_lag: Histogram
    last_tick: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SchedulerMetrics:
        return cls(
            ticks=Counter("sma_scheduler_ticks_total", "Scheduler ticks, by outcome (ok, error).",
                          ["outcome"], registry=registry),
            tick_duration=Histogram("sma_scheduler_tick_duration_seconds", "Duration of one scheduler tick.",
                                    buckets=LATENCY_BUCKETS, registry=registry),
            jobs_dispatched=Counter("sma_scheduler_jobs_dispatched_total", "Jobs dispatched, by platform.",
                                    ["platform"], registry=registry),
            commands_dispatched=Counter("sma_scheduler_commands_dispatched_total",
                                        "Fetch commands produced to Kafka, by platform.", ["platform"],
                                        registry=registry),
            dispatch_lag=Histogram("sma_scheduler_dispatch_lag_seconds",
                                   "Dispatch time minus the job's next_run_at, by platform.", ["platform"],
                                   buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600), registry=registry),
            last_tick=Gauge("sma_scheduler_last_tick_timestamp_seconds",
                            "Unix time of the last successful tick.", registry=registry),
        )
