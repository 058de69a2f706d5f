"""Scheduler settings: the shared groups plus tick cadence, claim size and command deadline."""

from __future__ import annotations

from pydantic import Field

from sma_common.settings import DatabaseSettings, HttpServerSettings, KafkaSettings, LoggingSettings, RedisSettings


class SchedulerSettings(HttpServerSettings, LoggingSettings, DatabaseSettings, KafkaSettings, RedisSettings):
    http_port: int = Field(default=8081, ge=0, le=65535)
    # A job waits at most one tick past its due time: a quarter second keeps the dispatch lag's
    # p99 under a second, for four cheap index probes a second when nothing is due.
    scheduler_tick_seconds: float = Field(default=0.25, gt=0, le=300)
    scheduler_claim_limit: int = Field(default=2000, ge=1, le=100_000)
    # Tick loops per process, each claiming in its own transaction: one's database round trips
    # overlap another's produce when a backlog is due.
    scheduler_claim_workers: int = Field(default=2, ge=1, le=16)
    scheduler_command_deadline_seconds: int = Field(default=300, ge=10, le=86_400)
    scheduler_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    # Backpressure: above this many jobs dispatched and not finished, a platform is held (its
    # jobs stay due in Postgres instead of piling up on Kafka).
    scheduler_max_in_flight_per_platform: int = Field(default=50_000, ge=1)
    # A dispatched job with no execution after this long no longer counts as in flight (its
    # command was lost or dead-lettered).
    scheduler_in_flight_ttl_seconds: float = Field(default=900.0, gt=0)
    # How often in-flight and due counts and the collectors' holds are read.
    scheduler_pressure_refresh_seconds: float = Field(default=5.0, gt=0, le=300)
    # Jobs overdue by more than this are late (after an outage) and dispatched at the catch-up
    # pace: the backlog drains within the window, at least `min_rate` jobs a second.
    scheduler_late_after_seconds: float = Field(default=60.0, gt=0)
    scheduler_catchup_window_seconds: float = Field(default=300.0, gt=0)
    scheduler_catchup_min_rate: float = Field(default=200.0, gt=0)
