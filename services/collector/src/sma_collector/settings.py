"""Collector settings: the shared groups plus concurrency, write grouping and the DLQ circuit breaker."""

from __future__ import annotations

from pydantic import Field

from sma_common.settings import (
    DatabaseSettings,
    HttpServerSettings,
    KafkaSettings,
    LoggingSettings,
    PlatformSettings,
    RedisSettings,
)


class CollectorSettings(
    HttpServerSettings, LoggingSettings, DatabaseSettings, KafkaSettings, PlatformSettings, RedisSettings
):
    http_port: int = Field(default=8082, ge=0, le=65535)
    collector_max_poll_records: int = Field(default=20, ge=1, le=500)
    # Commands handled at once per process (each waits on its platform's budget, HTTP and the
    # database); when all are busy, consumption pauses and the backlog stays in Kafka.
    collector_max_in_flight: int = Field(default=16, ge=1, le=512)
    # Commands finished together are written in one transaction, up to this many.
    collector_write_batch_max: int = Field(default=32, ge=1, le=1000)
    # On a rebalance, commands of revoked partitions get this long to finish before they are
    # handed back uncommitted.
    collector_revoke_grace_seconds: float = Field(default=15.0, ge=0, le=300)
    # A bad deploy must not dead-letter the whole topic: this many poison messages in a row
    # stop the collector instead (it restarts, and the alert fires).
    collector_dlq_max_consecutive: int = Field(default=50, ge=1)
    collector_retry_backoff_seconds: float = Field(default=1.0, gt=0, le=60)
    # After a Redis error, cache invalidation is skipped this long (cached reads then age out on
    # the gateway's TTL) instead of costing every command a timeout.
    collector_redis_retry_seconds: float = Field(default=5.0, gt=0, le=300)
