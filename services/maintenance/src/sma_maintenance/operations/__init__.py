"""Maintenance operations: async functions taking a connection and parameters and returning a
report. The service runs them on a schedule; the `sma` CLI runs the same code on demand."""

from sma_maintenance.operations.partitions import PARTITIONED_TABLES, PartitionReport, ensure_partitions

__all__ = ["PARTITIONED_TABLES", "PartitionReport", "ensure_partitions"]
