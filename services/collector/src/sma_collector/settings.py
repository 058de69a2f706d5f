"""Collector settings: the shared groups plus poll size and the DLQ circuit breaker."""

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
    # A bad deploy must not dead-letter the whole topic: this many poison messages in a row
    # stop the collector instead (it restarts, and the alert fires).
    collector_dlq_max_consecutive: int = Field(default=50, ge=1)
    collector_retry_backoff_seconds: float = Field(default=1.0, gt=0, le=60)
    # After a Redis error, cache invalidation is skipped this long (cached reads then age out on
    # the gateway's TTL) instead of costing every command a timeout.
    collector_redis_retry_seconds: float = Field(default=5.0, gt=0, le=300)
