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
    due_jobs: Gauge
    late_jobs: Gauge
    in_flight_jobs: Gauge
    held_jobs: Gauge

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
            due_jobs=Gauge("sma_scheduler_due_jobs", "Active jobs due now and not yet dispatched, by platform.",
                           ["platform"], registry=registry),
            late_jobs=Gauge("sma_scheduler_late_jobs",
                            "Due jobs overdue by more than SMA_SCHEDULER_LATE_AFTER_SECONDS (paced catch-up).",
                            registry=registry),
            in_flight_jobs=Gauge("sma_scheduler_in_flight_jobs",
                                 "Jobs dispatched and not yet finished by a collector, by platform.", ["platform"],
                                 registry=registry),
            held_jobs=Gauge("sma_scheduler_held_jobs",
                            "Due jobs held back, by platform and reason (backlog: collectors behind; "
                            "rate_limited, quota, auth_error: the platform's hold).", ["platform", "reason"],
                            registry=registry),
        )
