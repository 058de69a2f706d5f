"""Maintenance operations: async functions taking a connection and parameters and returning a
report (a frozen dataclass with a JSON-able `summary()`). The service runs them on a schedule;
the `sma` CLI runs the same code on demand, through `run_operation`."""

from sma_maintenance.operations.analyze import AnalyzeReport, analyze
from sma_maintenance.operations.check import CheckReport, Finding, run_checks
from sma_maintenance.operations.cleanup import CleanupReport, Retention, cleanup
from sma_maintenance.operations.compact import CompactedDay, CompactReport, compact
from sma_maintenance.operations.dispatch import (
    FULL_SEQUENCE,
    OPERATIONS,
    FullReport,
    OperationParams,
    Report,
    run_operation,
)
from sma_maintenance.operations.locking import OperationBusy, operation_lock
from sma_maintenance.operations.partitions import PARTITIONED_TABLES, PartitionReport, ensure_partitions
from sma_maintenance.operations.rollups import RollupReport, refresh_rollups
from sma_maintenance.operations.stats import StatsReport, collect_stats
from sma_maintenance.operations.vacuum import FULL_WARNING, VacuumReport, vacuum

__all__ = [
    "FULL_SEQUENCE", "FULL_WARNING", "OPERATIONS", "PARTITIONED_TABLES", "AnalyzeReport", "CheckReport",
    "CleanupReport", "CompactReport", "CompactedDay",
    "Finding", "FullReport", "OperationBusy", "OperationParams", "PartitionReport", "Report",
    "Retention", "RollupReport", "StatsReport", "VacuumReport", "analyze", "cleanup", "collect_stats", "compact",
    "ensure_partitions", "operation_lock", "refresh_rollups", "run_checks", "run_operation", "vacuum",
]
