"""Rich rendering of the maintenance reports (`sma db maintenance`); `--json` prints them whole."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sma_maintenance.operations import (
    AnalyzeReport,
    CheckReport,
    CleanupReport,
    CompactReport,
    PartitionReport,
    Report,
    RollupReport,
    StatsReport,
    VacuumReport,
)


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render(console: Console, report: Report, *, verbose: bool = False) -> None:
    if isinstance(report, PartitionReport):
        _partitions(console, report)
    elif isinstance(report, StatsReport):
        _stats(console, report, verbose)
    elif isinstance(report, CheckReport):
        _check(console, report)
    elif isinstance(report, CleanupReport):
        _cleanup(console, report)
    elif isinstance(report, RollupReport):
        _rollups(console, report)
    elif isinstance(report, CompactReport):
        _compact(console, report)
    elif isinstance(report, VacuumReport | AnalyzeReport):
        _table_runs(console, report)
    else:
        console.print(report.summary())


def _partitions(console: Console, report: PartitionReport) -> None:
    table = Table("table", "partitions", "oldest", "newest", "created now", title="partitions")
    for t in report.tables:
        table.add_row(t.table, str(t.partitions), str(t.oldest), str(t.newest), str(t.created))
    console.print(table)


def _stats(console: Console, report: StatsReport, verbose: bool) -> None:
    table = Table("table", "total size", "index size", "est. rows", "dead tuples", "dead %", "partitions",
                  title="tables")
    for t in report.tables:
        table.add_row(t.name, size(t.total_bytes), size(t.index_bytes), f"{t.estimated_rows:,}",
                      f"{t.dead_tuples:,}", f"{t.dead_ratio:.1%}", str(t.partitions or ""))
    console.print(table)
    ranges = Table("partitioned table", "partitions", "oldest", "newest", title="partition ranges")
    for r in report.partition_ranges:
        ranges.add_row(r.table, str(r.partitions), str(r.oldest), str(r.newest))
    console.print(ranges)
    if verbose:
        parts = Table("partition", "of", "total size", "est. rows", "dead tuples", title="partitions")
        for p in report.partitions:
            parts.add_row(p.name, p.parent or "", size(p.total_bytes), f"{p.estimated_rows:,}", f"{p.dead_tuples:,}")
        console.print(parts)
    indexes = Table("index", "table", "size", "scans", title="indexes (partitions summed)")
    for i in report.indexes:
        indexes.add_row(i.name, i.table, size(i.bytes), f"{i.scans:,}")
    console.print(indexes)
    ratio = "n/a (no reads yet)" if report.cache_hit_ratio is None else f"{report.cache_hit_ratio:.2%}"
    console.print(f"total size {size(report.total_bytes)}; cache hit ratio {ratio}")


def _check(console: Console, report: CheckReport) -> None:
    console.print(f"connections: {report.connections_used} of {report.max_connections} in use")
    ahead = ", ".join(f"{t} {d} day(s)" for t, d in report.days_ahead.items())
    console.print(f"partitions ready from today: {ahead}")
    if report.statements is None:
        console.print(f"[yellow]slowest statements: {report.statements_note}[/yellow]")
    else:
        slow = Table("mean ms", "calls", "total ms", "statement", title="slowest statements (pg_stat_statements)")
        for s in report.statements:
            slow.add_row(f"{s.mean_ms:.1f}", f"{s.calls:,}", f"{s.total_ms:.0f}", s.query)
        console.print(slow)
    if not report.findings:
        console.print("[green]OK: nothing needs action[/green]")
        return
    table = Table("check", "finding", "what to do", title="[red]needs action[/red]")
    for f in report.findings:
        table.add_row(f.check, f.detail, f.advice)
    console.print(table)
    console.print(f"[red]{len(report.findings)} finding(s) need action[/red]")


def _cleanup(console: Console, report: CleanupReport) -> None:
    verb = "would drop" if report.dry_run else "dropped"
    r = report.retention
    console.print(f"retention: points {r.points_days} days, executions {r.executions_days} days, "
                  f"rollups {r.rollup_days} days")
    if report.dropped:
        table = Table("table", "partition", "day", "size", title=f"partitions {verb}")
        for p in report.dropped:
            table.add_row(p.table, p.partition, str(p.day), size(p.bytes))
        console.print(table)
    console.print(f"{verb} {len(report.dropped)} partition(s), {size(report.reclaimed_bytes)}"
                  f"{' would come back' if report.dry_run else ' reclaimed'}")
    for d in report.deleted:
        console.print(f"{d.table}: {'would delete' if report.dry_run else 'deleted'} {d.rows:,} row(s) "
                      f"before {d.before:%Y-%m-%d}")


def _rollups(console: Console, report: RollupReport) -> None:
    table = Table("rollup", "from", "to", "chunks", "buckets written", "watermark", title="rollups")
    for r in report.runs:
        table.add_row(r.kind, str(r.start or "-"), str(r.end or "-"), str(r.chunks), f"{r.buckets_written:,}",
                      str(r.watermark or "-"))
    console.print(table)


def _compact(console: Console, report: CompactReport) -> None:
    if report.compacted:
        table = Table("partition", "day", "points moved", "compact rows", "partition size", "day compacted",
                      title="compacted")
        for d in report.compacted:
            table.add_row(d.partition, str(d.day), f"{d.raw_points:,}", f"{d.compact_rows:,}", size(d.bytes_before),
                          size(d.bytes_after))
        console.print(table)
    until = report.closed_before if report.rolled_up_before is None else min(report.closed_before,
                                                                           report.rolled_up_before)
    console.print(f"compacted {len(report.compacted)} partition(s), {size(report.bytes_before)} -> "
                  f"{size(report.bytes_after)}; closed days end by {report.closed_before}, rolled up by "
                  f"{report.rolled_up_before or 'never (run rollups first)'}; eligible: days ending by {until}")


def _table_runs(console: Console, report: VacuumReport | AnalyzeReport) -> None:
    full = isinstance(report, VacuumReport) and report.full
    columns = ("table", "seconds", "size before", "size after") if full else ("table", "seconds")
    table = Table(*columns, title="vacuum full" if full else type(report).__name__.removesuffix("Report").lower())
    for t in report.tables:
        row = [t.table, f"{t.seconds:.3f}"] + ([size(t.bytes_before), size(t.bytes_after)] if full else [])
        table.add_row(*row)
    console.print(table)
    if isinstance(report, VacuumReport) and full:
        console.print(f"reclaimed {size(report.reclaimed_bytes)}")
