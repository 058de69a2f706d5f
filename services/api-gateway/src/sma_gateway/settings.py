"""GatewaySettings: the shared field groups plus the gateway's cache, request and paging bounds."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from sma_common.settings import (
    DatabaseSettings,
    HttpServerSettings,
    LoggingSettings,
    PlatformSettings,
    RedisSettings,
)


class GatewaySettings(HttpServerSettings, LoggingSettings, DatabaseSettings, RedisSettings, PlatformSettings):
    """Every `SMA_*` setting the gateway reads; flat names, validated at start-up."""

    http_port: int = Field(default=8080, ge=0, le=65535)
    # Short: collectors add points every minute, and nothing tells the gateway when they do.
    cache_metrics_ttl_seconds: float = Field(default=30.0, gt=0, le=3600)
    # After a Redis failure, reads skip Redis this long instead of failing on every request.
    cache_redis_retry_seconds: float = Field(default=5.0, gt=0, le=300)
    # In-process copies of hot cached values (no Redis round trip on a hit), kept coherent through
    # Redis pub/sub; 0 turns the tier off.
    cache_local_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=8 * 1024**3)
    # How long a verified API key is trusted from memory (revocations through the API apply at once).
    api_key_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # No request runs longer than this (504 problem); keep it above the slowest legitimate query.
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Origins allowed to call the API from a browser (`*` for any); empty: CORS off.
    cors_allow_origins: list[str] = Field(default_factory=list)
    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    page_limit_default: int = Field(default=50, ge=1, le=10_000)
    page_limit_max: int = Field(default=500, ge=1, le=10_000)
    # A week of one-minute points fits in one response.
    metrics_points_limit_max: int = Field(default=20_000, ge=1, le=1_000_000)
    api_key_last_used_interval_seconds: float = Field(default=60.0, ge=0, le=86_400)
    # Per API key, on /api/*: a bucket of `burst` requests refilled at per_minute / 60 a second.
    api_rate_limit_per_minute: int = Field(default=600, ge=0, le=1_000_000)  # 0: no limit
    api_rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)
    # Key prefix -> per-minute limit for that key (0: no limit); e.g. {"abcdefgh": 60}.
    api_rate_limit_overrides: dict[str, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(default_factory=dict)
    scheduler_heartbeat_max_age_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _default_page_fits_max(self) -> Self:
        if self.page_limit_default > self.page_limit_max:
            raise ValueError(
                f"page_limit_default ({self.page_limit_default}) exceeds page_limit_max ({self.page_limit_max})"
            )
        return self
