"""The maintenance service's metrics, and how each operation's report updates them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sma_common.platforms import Platform
from sma_maintenance.operations import (
    CheckReport,
    CleanupReport,
    CompactReport,
    PartitionReport,
    Report,
    RollupReport,
    StatsReport,
)

FINDING_CHECKS = ("connections", "long_running_query", "idle_in_transaction", "partitions", "bloat", "stale_jobs")


class MaintenanceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter("sma_maintenance_task_runs_total", "Maintenance task runs, by task and status.",
                            ["task", "status"], registry=registry)
        self.duration = Histogram("sma_maintenance_task_duration_seconds", "Duration of maintenance tasks.",
                                  ["task"], buckets=(0.01, 0.1, 0.5, 1, 5, 30, 120, 600, 3600), registry=registry)
        self.partitions = Gauge("sma_maintenance_partitions", "Partitions per partitioned table.", ["table"],
                                registry=registry)
        self.table_size = Gauge("sma_maintenance_table_size_bytes",
                                "Total size of each table (with its partitions, indexes and TOAST).", ["table"],
                                registry=registry)
        self.dropped = Counter("sma_maintenance_partitions_dropped_total",
                               "Partitions dropped by retention, by parent table.", ["table"], registry=registry)
        self.reclaimed = Counter("sma_maintenance_reclaimed_bytes_total",
                                 "Bytes freed by dropping expired partitions.", registry=registry)
        self.watermark = Gauge("sma_maintenance_rollup_watermark_timestamp_seconds",
                               "Every rollup bucket before this time is done, by kind (hourly, daily).", ["kind"],
                               registry=registry)
        self.compacted = Counter("sma_maintenance_compacted_points_total",
                                 "Raw points moved into the compact layout.", registry=registry)
        self.compact_saved = Counter("sma_maintenance_compacted_bytes_saved_total",
                                     "Bytes of raw partitions freed by compaction, less what the compact rows take.",
                                     registry=registry)
        self.findings = Gauge("sma_maintenance_check_findings", "Problems found by the last check, by check.",
                              ["check"], registry=registry)
        self.stale_jobs = Gauge("sma_maintenance_stale_jobs",
                                "Active jobs not refreshed within twice their interval, by platform (last check).",
                                ["platform"], registry=registry)
        self.leader = Gauge("sma_maintenance_leader", "1 while this instance is the active one.", registry=registry)

    def observe_run(self, task: str, status: str, seconds: float) -> None:
        self.runs.labels(task, status).inc()
        self.duration.labels(task).observe(seconds)

    def record(self, report: Report) -> None:
        if isinstance(report, PartitionReport):
            for t in report.tables:
                self.partitions.labels(t.table).set(t.partitions)
        elif isinstance(report, StatsReport):
            for table in report.tables:
                self.table_size.labels(table.name).set(table.total_bytes)
        elif isinstance(report, CleanupReport) and not report.dry_run:
            for p in report.dropped:
                self.dropped.labels(p.table).inc()
            self.reclaimed.inc(report.reclaimed_bytes)
        elif isinstance(report, RollupReport):
            for run in report.runs:
                if run.watermark is not None:
                    self.watermark.labels(run.kind).set(run.watermark.timestamp())
        elif isinstance(report, CompactReport):
            self.compacted.inc(sum(d.raw_points for d in report.compacted))
            self.compact_saved.inc(max(0, report.bytes_before - report.bytes_after))
        elif isinstance(report, CheckReport):
            self._record_check(report)

    def _record_check(self, report: CheckReport) -> None:
        for check in FINDING_CHECKS:
            self.findings.labels(check).set(sum(1 for f in report.findings if f.check == check))
        for platform in Platform:
            self.stale_jobs.labels(platform.value).set(report.stale_jobs.get(platform.value, 0))
