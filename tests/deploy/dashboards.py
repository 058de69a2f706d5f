"""Reading the dashboards the way Grafana would: their panel targets, and the template variables
and macros Grafana substitutes before a query reaches Prometheus or PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
DASHBOARDS = {p.name: p for p in sorted(DASHBOARD_DIR.glob("*.json"))}
PROMETHEUS_DASHBOARDS = [DASHBOARDS["sma-overview.json"], DASHBOARDS["sma-platform.json"]]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))

# What Grafana puts in for its own variables; the windows suit a 1 s scrape interval.
PROMQL_BUILTINS = {"__rate_interval": "30s", "__interval": "5s", "__range": "5m"}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def targets(path: Path, field: str) -> Iterator[tuple[str, str, str]]:
    dashboard = json.loads(path.read_text())
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get(field):
                yield path.name, panel["title"], target[field]


def prometheus_targets(paths: list[Path]) -> Iterator[tuple[str, str, str]]:
    for path in paths:
        yield from targets(path, "expr")


def sql_targets(path: Path) -> Iterator[tuple[str, str, str]]:
    yield from targets(path, "rawSql")


def substitute_variables(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in: {text}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def substitute_promql(expr: str, **variables: str) -> str:
    return substitute_variables(expr, {**PROMQL_BUILTINS, **variables})


def _seconds(interval: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(interval[:-1]) * units[interval[-1]]


def substitute_sql(raw: str, variables: dict[str, str], *, days: int = 7) -> str:
    """Grafana's PostgreSQL macros (as its SQL datasource expands them), then the variables."""
    stop = datetime.now(UTC) + timedelta(minutes=5)
    start = stop - timedelta(days=days)
    frm, to = f"'{start.isoformat()}'", f"'{stop.isoformat()}'"
    raw = re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1)} BETWEEN {frm} AND {to}", raw)
    raw = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*'(\w+)'\)",
                 lambda m: f'floor(extract(epoch FROM {m.group(1)}) / {_seconds(m.group(2))}) * '
                           f'{_seconds(m.group(2))} AS "time"', raw)
    raw = re.sub(r"\$__timeGroup\(([^,]+),\s*'(\w+)'\)",
                 lambda m: f"floor(extract(epoch FROM {m.group(1)}) / {_seconds(m.group(2))}) * "
                           f"{_seconds(m.group(2))}", raw)
    raw = raw.replace("$__timeFrom()", frm).replace("$__timeTo()", to)
    return substitute_variables(raw, variables)
