"""Scheduler settings: the shared groups plus tick cadence, claim size and command deadline."""

from __future__ import annotations

from pydantic import Field

from sma_common.settings import DatabaseSettings, HttpServerSettings, KafkaSettings, LoggingSettings


class SchedulerSettings(HttpServerSettings, LoggingSettings, DatabaseSettings, KafkaSettings):
    http_port: int = Field(default=8081, ge=0, le=65535)
    scheduler_tick_seconds: float = Field(default=1.0, gt=0, le=300)
    scheduler_claim_limit: int = Field(default=2000, ge=1, le=100_000)
    scheduler_command_deadline_seconds: int = Field(default=300, ge=10, le=86_400)
    scheduler_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
