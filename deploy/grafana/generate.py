"""Generates SMA's Grafana dashboards (deploy/grafana/dashboards/*.json) from one place, so
every panel shares the layout, units and datasource conventions. Run after editing:

    .venv/bin/python deploy/grafana/generate.py          # writes the JSON
    .venv/bin/python deploy/grafana/generate.py --check  # exit 1 when the JSON is out of date

Conventions (tests/deploy/test_dashboards*.py hold them): every panel reads the datasource chosen
by the `datasource` variable; Prometheus panels use `$__rate_interval`; the per-platform view has
a `platform` variable; the analytics view queries PostgreSQL (rollup tables, executions).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
PROM = {"type": "prometheus", "uid": "${datasource}"}
PG = {"type": "grafana-postgresql-datasource", "uid": "${datasource}"}
RI = "$__rate_interval"
Panel = dict[str, Any]


def datasource_variable(plugin: str, label: str) -> dict[str, Any]:
    return {"name": "datasource", "label": label, "type": "datasource", "query": plugin, "current": {},
            "hide": 0, "refresh": 1, "regex": "", "options": [], "includeAll": False, "multi": False}


def query_variable(name: str, label: str, ds: dict[str, str], query: str, *, multi: bool = False) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": ds, "definition": query,
            "query": query if ds is PG else {"query": query, "refId": f"{name}-query"},
            "current": {}, "hide": 0, "refresh": 2, "regex": "", "sort": 1, "options": [],
            "includeAll": False, "multi": multi}


def prom(expr: str, legend: str = "") -> dict[str, Any]:
    return {"datasource": PROM, "expr": expr, "legendFormat": legend or "__auto", "range": True}


def sql(raw: str, fmt: str = "time_series") -> dict[str, Any]:
    return {"datasource": PG, "rawSql": raw.strip(), "format": fmt, "rawQuery": True, "editorMode": "code"}


def panel(title: str, targets: list[dict[str, Any]], *, unit: str = "short", kind: str = "timeseries",
          description: str = "", width: int = 12) -> Panel:
    ds = targets[0]["datasource"]
    refs = [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)]
    body: Panel = {"type": kind, "title": title, "description": description, "datasource": ds, "targets": refs,
                   "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "_width": width}
    if kind == "timeseries":
        body["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                           "tooltip": {"mode": "multi", "sort": "desc"}}
    return body


def layout(sections: list[tuple[str, list[Panel]]]) -> list[Panel]:
    """Rows of panels, left to right, 8 units high; ids in order."""
    out: list[Panel] = []
    y = 0
    for title, panels in sections:
        out.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        y, x = y + 1, 0
        for p in panels:
            width = p.pop("_width")
            if x + width > 24:
                y, x = y + 8, 0
            p["gridPos"] = {"h": 8, "w": width, "x": x, "y": y}
            x += width
            out.append(p)
        y += 8
    for i, p in enumerate(out, start=1):
        p["id"] = i
    return out


def dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]],
              sections: list[tuple[str, list[Panel]]], *, time_from: str = "now-3h") -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["sma"], "editable": True,
        "schemaVersion": 39, "version": 1, "timezone": "browser", "refresh": "30s", "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"}, "annotations": {"list": []},
        "links": [{"title": "SMA dashboards", "type": "dashboards", "tags": ["sma"], "asDropdown": True}],
        "templating": {"list": variables}, "panels": layout(sections),
    }


def rate(metric: str, by: str = "", selector: str = "") -> str:
    grouping = f" by ({by}) " if by else ""
    series = f"{metric}{{{selector}}}" if selector else metric
    return f"sum{grouping}(rate({series}[{RI}]))"


def quantile(q: float, metric: str, by: str = "", selector: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    inner = f"{metric}_bucket{{{selector}}}" if selector else f"{metric}_bucket"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({inner}[{RI}])))"


def overview() -> dict[str, Any]:
    gw = "sma_gateway_http_requests_total"
    gw_latency = "sma_gateway_http_request_duration_seconds"
    cache = "sma_gateway_cache_requests_total"
    sections = [
        ("Availability", [
            panel("Instances up, by service", [prom('sum by (job) (up{job=~".*sma-.*"})', "{{job}}")],
                  description="Scraped instances answering, per service (SmaServiceDown, SmaInstanceDown)."),
            panel("Health checks passing (1) or failing (0)",
                  [prom("min by (job, check) (sma_health_check_ok)", "{{job}} {{check}}")],
                  description="Readiness checks run at each scrape (SmaDatabaseUnreachable, SmaRedisDown)."),
        ]),
        ("Gateway: requests, errors, duration", [
            panel("Requests by status", [prom(rate(gw, "status"), "{{status}}")], unit="reqps", width=8),
            panel("5xx share of requests",
                  [prom(f'(sum(rate({gw}{{status=~"5.."}}[{RI}])) or vector(0)) / sum(rate({gw}[{RI}]))', "5xx")],
                  unit="percentunit", width=8, description="SmaGatewayHighErrorRatio fires above 5% for 5 minutes."),
            panel("Latency p50 / p99",
                  [prom(quantile(0.5, gw_latency), "p50"), prom(quantile(0.99, gw_latency), "p99")], unit="s",
                  width=8, description="SmaGatewayHighLatency fires when p99 stays above 2 s."),
            panel("p99 latency by route", [prom(quantile(0.99, gw_latency, "route"), "{{route}}")], unit="s", width=24),
        ]),
        ("Scheduler: ticks, errors, duration", [
            panel("Ticks by outcome", [prom(rate("sma_scheduler_ticks_total", "outcome"), "{{outcome}}")], unit="ops",
                  width=8),
            panel("Tick duration p99", [prom(quantile(0.99, "sma_scheduler_tick_duration_seconds"), "p99")], unit="s",
                  width=8),
            panel("Since the last tick", [prom("time() - max(sma_scheduler_last_tick_timestamp_seconds)", "age")],
                  unit="s", width=8, description="SmaSchedulerNotTicking fires above 60 s."),
        ]),
        ("Collector: commands, failures, duration", [
            panel("Commands by result", [prom(rate("sma_collector_commands_total", "result"), "{{result}}")],
                  unit="ops", width=8),
            panel("Executions by status", [prom(rate("sma_collector_executions_total", "status"), "{{status}}")],
                  unit="ops", width=8),
            panel("Fetch duration p95 by platform",
                  [prom(quantile(0.95, "sma_collector_fetch_duration_seconds", "platform"), "{{platform}}")],
                  unit="s", width=8),
            panel("Failed share of executions by platform", [prom(
                f'(sum by (platform) (rate(sma_collector_executions_total{{status!="success"}}[{RI}]))'
                f" or sum by (platform) (rate(sma_collector_executions_total[{RI}])) * 0)"
                f" / sum by (platform) (rate(sma_collector_executions_total[{RI}]))", "{{platform}}")],
                unit="percentunit", width=24),
        ]),
        ("Pipeline: due jobs to commands to points", [
            panel("Jobs waiting", [
                prom("sum(sma_scheduler_due_jobs)", "due"), prom("sum(sma_scheduler_late_jobs)", "late"),
                prom("sum(sma_scheduler_in_flight_jobs)", "in flight"), prom("sum(sma_scheduler_held_jobs)", "held"),
            ], width=8),
            panel("Flow per second", [
                prom(rate("sma_scheduler_jobs_dispatched_total"), "jobs dispatched"),
                prom(rate("sma_scheduler_commands_dispatched_total"), "commands dispatched"),
                prom(rate("sma_collector_commands_total"), "commands handled"),
                prom(rate("sma_collector_executions_total"), "executions"),
                prom(rate("sma_collector_points_written_total"), "points written"),
            ], unit="ops", width=8),
            panel("Consumer lag and commands in flight", [
                prom("sum(sma_collector_consumer_lag_messages)", "lag (messages)"),
                prom("sum(sma_collector_commands_in_flight)", "in flight"),
            ], width=8, description="SmaConsumerLagGrowing fires when the lag is over 100 and grows for 10 minutes."),
            panel("Dispatch lag p95 by platform",
                  [prom(quantile(0.95, "sma_scheduler_dispatch_lag_seconds", "platform"), "{{platform}}")],
                  unit="s", width=8, description="SmaDispatchLagHigh fires above 60 s."),
            panel("Retries and dead letters", [
                prom(rate("sma_collector_retries_total"), "retries/s"),
                prom("sum(increase(sma_collector_dead_letters_total[1h]))", "dead letters (1h)"),
            ], width=8),
            panel("Stale jobs by platform", [prom("sum by (platform) (sma_maintenance_stale_jobs)", "{{platform}}")],
                  width=8, description="Not refreshed within twice their interval (SmaStaleAccounts)."),
        ]),
        ("Platforms: quotas and rate limits", [
            panel("Budget remaining by platform",
                  [prom("min by (platform) (sma_collector_ratelimit_remaining)", "{{platform}}")], width=8,
                  description="Calls (YouTube: quota units) left in each platform's shared budget."),
            panel("Rate-limited calls by platform",
                  [prom(f"{rate('sma_collector_rate_limited_total', 'platform')} or on () vector(0)", "{{platform}}")],
                  unit="ops", width=8, description="0 when no platform has refused a call."),
            panel("Held jobs by platform and reason",
                  [prom("sum by (platform, reason) (sma_scheduler_held_jobs)", "{{platform}} {{reason}}")], width=8,
                  description="SmaPlatformRateLimited, SmaPlatformQuotaExhausted, SmaPlatformAuthErrors."),
            panel("API calls by platform", [prom(rate("sma_collector_api_calls_total", "platform"), "{{platform}}")],
                  unit="ops", width=24),
        ]),
        ("Cache and database", [
            panel("Cache hit ratio", [prom(
                f'sum(rate({cache}{{result=~"hit|local"}}[{RI}]))'
                f' / sum(rate({cache}{{result=~"hit|local|miss|coalesced"}}[{RI}]))',
                "hit ratio")], unit="percentunit", width=8),
            panel("Cache reads by result", [prom(rate(cache, "result"), "{{result}}")], unit="ops", width=8),
            panel("Database pool in use / limit, by service", [
                prom('sum by (job) (sma_db_pool_connections{state="in_use"})', "{{job}} in use"),
                prom("sum by (job) (sma_db_pool_max_connections)", "{{job}} limit"),
            ], width=8, description="SmaDatabasePoolExhausted fires when in use reaches the limit for 5 minutes."),
            panel("Table sizes", [prom("max by (table) (sma_maintenance_table_size_bytes)", "{{table}}")],
                  unit="bytes", width=8),
            panel("Maintenance runs (1h) by task and status",
                  [prom("sum by (task, status) (increase(sma_maintenance_task_runs_total[1h]))",
                        "{{task}} {{status}}")],
                  width=8),
            panel("Maintenance: mean task duration, rollup age", [
                prom("max by (task) (sma_maintenance_task_duration_seconds_sum"
                     " / sma_maintenance_task_duration_seconds_count)", "{{task}}"),
                prom("time() - max by (kind) (sma_maintenance_rollup_watermark_timestamp_seconds)",
                     "rollup {{kind}} age"),
            ], unit="s", width=8),
        ]),
    ]
    return dashboard("sma-overview", "SMA overview",
                     "Every service's requests, errors and duration, the collection pipeline, platform budgets, "
                     "cache and database.",
                     [datasource_variable("prometheus", "Prometheus")], sections)


def per_platform() -> dict[str, Any]:
    p = 'platform="$platform"'
    sections = [
        ("Scheduling", [
            panel("Jobs due, in flight, held", [
                prom(f"sum(sma_scheduler_due_jobs{{{p}}})", "due"),
                prom(f"sum(sma_scheduler_in_flight_jobs{{{p}}})", "in flight"),
                prom(f"sum by (reason) (sma_scheduler_held_jobs{{{p}}})", "held: {{reason}}"),
            ], width=8),
            panel("Dispatched per second", [
                prom(rate("sma_scheduler_jobs_dispatched_total", selector=p), "jobs"),
                prom(rate("sma_scheduler_commands_dispatched_total", selector=p), "commands"),
            ], unit="ops", width=8),
            panel("Dispatch lag p50 / p95", [
                prom(quantile(0.5, "sma_scheduler_dispatch_lag_seconds", selector=p), "p50"),
                prom(quantile(0.95, "sma_scheduler_dispatch_lag_seconds", selector=p), "p95"),
            ], unit="s", width=8),
        ]),
        ("Collection", [
            panel("Commands by result", [prom(rate("sma_collector_commands_total", "result", p), "{{result}}")],
                  unit="ops", width=8),
            panel("Executions by status", [prom(rate("sma_collector_executions_total", "status", p), "{{status}}")],
                  unit="ops", width=8),
            panel("Points written and API calls per second", [
                prom(rate("sma_collector_points_written_total", selector=p), "points"),
                prom(rate("sma_collector_api_calls_total", selector=p), "API calls"),
            ], unit="ops", width=8),
            panel("Fetch duration p50 / p95", [
                prom(quantile(0.5, "sma_collector_fetch_duration_seconds", selector=p), "p50"),
                prom(quantile(0.95, "sma_collector_fetch_duration_seconds", selector=p), "p95"),
            ], unit="s", width=8),
            panel("Stale jobs", [prom(f"sum(sma_maintenance_stale_jobs{{{p}}})", "stale")], width=8),
        ]),
        ("Budget and rate limits", [
            panel("Budget remaining", [prom(f"min(sma_collector_ratelimit_remaining{{{p}}})", "remaining")], width=8),
            panel("Rate-limited calls per second",
                  [prom(f"sum(rate(sma_collector_rate_limited_total{{{p}}}[{RI}])) or vector(0)", "rate-limited")],
                  unit="ops", width=8, description="0 when the platform has refused no call."),
            panel("Auth errors per second",
                  [prom(f'sum(rate(sma_collector_executions_total{{{p}, status="auth_error"}}[{RI}])) or vector(0)',
                        "auth_error")], unit="ops", width=8, description="0 when no call was refused for credentials."),
        ]),
    ]
    variables = [datasource_variable("prometheus", "Prometheus"),
                 query_variable("platform", "Platform", PROM, "label_values(sma_scheduler_due_jobs, platform)")]
    return dashboard("sma-platform", "SMA per platform",
                     "One platform's scheduling, collection, budget and rate limits.", variables, sections)


ACCOUNTS_SELECTED = "a.platform = '$platform' AND a.id IN ($account)"


def analytics() -> dict[str, Any]:
    hourly = f"""
SELECT r.bucket AS time, a.handle AS metric, r.last AS value
FROM metric_rollups_hourly r
JOIN accounts a ON a.id = r.account_id
JOIN metrics m ON m.id = r.metric
WHERE $__timeFilter(r.bucket) AND {ACCOUNTS_SELECTED} AND m.name = '$metric'
ORDER BY 1"""
    daily = f"""
SELECT r.bucket AS time, a.handle AS metric, r.last - r.first AS value
FROM metric_rollups_daily r
JOIN accounts a ON a.id = r.account_id
JOIN metrics m ON m.id = r.metric
WHERE $__timeFilter(r.bucket) AND {ACCOUNTS_SELECTED} AND m.name = '$metric'
ORDER BY 1"""
    latest = f"""
SELECT DISTINCT ON (a.id, m.name) a.handle AS account, m.name AS metric, r.last AS value, r.bucket AS "hour"
FROM metric_rollups_hourly r
JOIN accounts a ON a.id = r.account_id
JOIN metrics m ON m.id = r.metric
WHERE $__timeFilter(r.bucket) AND {ACCOUNTS_SELECTED}
ORDER BY a.id, m.name, r.bucket DESC"""
    executions = """
SELECT $__timeGroupAlias(e.finished_at, '1h'), e.status AS metric, count(*) AS value
FROM job_executions e
WHERE $__timeFilter(e.scheduled_for) AND e.platform = '$platform'
GROUP BY 1, 2
ORDER BY 1"""
    points = """
SELECT $__timeGroupAlias(e.finished_at, '1h'), sum(e.points_written) AS "points written"
FROM job_executions e
WHERE $__timeFilter(e.scheduled_for) AND e.platform = '$platform'
GROUP BY 1
ORDER BY 1"""
    sections = [
        ("Accounts over time", [
            panel("$metric by account (hourly, last value)", [sql(hourly)], width=24,
                  description="From metric_rollups_hourly (kept by the maintenance rollups)."),
            panel("$metric change per day by account", [sql(daily)], kind="barchart", width=12,
                  description="Last minus first value of each UTC day (metric_rollups_daily)."),
            panel("Latest values of the selected accounts", [sql(latest, "table")], kind="table", width=12),
        ]),
        ("Collection of $platform", [
            panel("Executions per hour by status", [sql(executions)], width=12),
            panel("Points written per hour", [sql(points)], width=12),
        ]),
    ]
    variables = [
        datasource_variable("grafana-postgresql-datasource", "PostgreSQL"),
        query_variable("platform", "Platform", PG, "SELECT DISTINCT platform FROM accounts ORDER BY 1"),
        query_variable("account", "Accounts", PG,
                       "SELECT id AS __value, handle AS __text FROM accounts WHERE platform = '$platform' "
                       "ORDER BY handle",
                       multi=True),
        query_variable("metric", "Metric", PG, "SELECT name FROM metrics ORDER BY id"),
    ]
    return dashboard("sma-analytics", "SMA analytics", "Accounts' metrics over time, from PostgreSQL.",
                     variables, sections, time_from="now-7d")


DASHBOARDS = {"sma-overview.json": overview, "sma-platform.json": per_platform, "sma-analytics.json": analytics}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        stale = [n for n, text in rendered.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        if stale:
            print(f"out of date (run deploy/grafana/generate.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
