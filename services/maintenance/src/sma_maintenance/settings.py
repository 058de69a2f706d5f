"""Maintenance settings: the shared groups plus each operation's schedule and parameters."""

from __future__ import annotations

from pydantic import Field

from sma_common.settings import DatabaseSettings, HttpServerSettings, LoggingSettings
from sma_maintenance.operations.check import DEFAULT_LONG_QUERY_SECONDS, DEFAULT_MIN_PARTITION_DAYS_AHEAD
from sma_maintenance.operations.cleanup import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_EXECUTIONS_RETENTION_DAYS,
    DEFAULT_POINTS_RETENTION_DAYS,
    DEFAULT_ROLLUP_RETENTION_DAYS,
)
from sma_maintenance.operations.compact import DEFAULT_MIN_AGE_DAYS
from sma_maintenance.operations.locking import DEFAULT_LOCK_TIMEOUT_MS
from sma_maintenance.operations.partitions import DEFAULT_DAYS_AHEAD
from sma_maintenance.operations.rollups import DEFAULT_CHUNK_HOURS

WEEK = 7 * 86_400


class MaintenanceSettings(HttpServerSettings, LoggingSettings, DatabaseSettings):
    http_port: int = Field(default=8083, ge=0, le=65535)
    maintenance_interval_seconds: float = Field(default=60.0, gt=0, le=86_400)
    maintenance_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    # How often the leader runs each operation (0 switches it off).
    maintenance_partitions_interval_seconds: float = Field(default=3600.0, ge=0, le=WEEK)
    maintenance_rollups_interval_seconds: float = Field(default=300.0, ge=0, le=WEEK)
    maintenance_cleanup_interval_seconds: float = Field(default=3600.0, ge=0, le=WEEK)
    maintenance_compact_interval_seconds: float = Field(default=3600.0, ge=0, le=WEEK)
    maintenance_analyze_interval_seconds: float = Field(default=21_600.0, ge=0, le=WEEK)
    maintenance_vacuum_interval_seconds: float = Field(default=86_400.0, ge=0, le=WEEK)
    maintenance_stats_interval_seconds: float = Field(default=900.0, ge=0, le=WEEK)
    maintenance_check_interval_seconds: float = Field(default=300.0, ge=0, le=WEEK)
    # What they do.
    maintenance_partition_days_ahead: int = Field(default=DEFAULT_DAYS_AHEAD, ge=1, le=366)
    maintenance_points_retention_days: int = Field(default=DEFAULT_POINTS_RETENTION_DAYS, ge=1)
    maintenance_executions_retention_days: int = Field(default=DEFAULT_EXECUTIONS_RETENTION_DAYS, ge=1)
    maintenance_rollup_retention_days: int = Field(default=DEFAULT_ROLLUP_RETENTION_DAYS, ge=1)
    maintenance_cleanup_batch_rows: int = Field(default=DEFAULT_BATCH_ROWS, ge=1, le=1_000_000)
    maintenance_rollup_chunk_hours: int = Field(default=DEFAULT_CHUNK_HOURS, ge=1, le=168)
    maintenance_lock_timeout_ms: int = Field(default=DEFAULT_LOCK_TIMEOUT_MS, ge=1, le=600_000)
    maintenance_long_query_seconds: float = Field(default=DEFAULT_LONG_QUERY_SECONDS, gt=0)
    # Compact a day's points once the day ended this many days ago (and is rolled up).
    maintenance_compact_min_age_days: int = Field(default=DEFAULT_MIN_AGE_DAYS, ge=1, le=366)
    maintenance_min_partition_days_ahead: int = Field(default=DEFAULT_MIN_PARTITION_DAYS_AHEAD, ge=0, le=366)
