"""Maintenance settings: the shared groups plus how far ahead partitions go and how often."""

from __future__ import annotations

from pydantic import Field

from sma_common.settings import DatabaseSettings, HttpServerSettings, LoggingSettings


class MaintenanceSettings(HttpServerSettings, LoggingSettings, DatabaseSettings):
    http_port: int = Field(default=8083, ge=0, le=65535)
    maintenance_partition_days_ahead: int = Field(default=7, ge=1, le=366)
    maintenance_interval_seconds: float = Field(default=300.0, gt=0, le=86_400)
    maintenance_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
