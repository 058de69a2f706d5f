"""The Grafana dashboards' structure, without a stack: generated JSON in sync with its generator,
datasource by variable, metrics from the catalogue, variables defined, PromQL that promtool parses.
(test_dashboards_live.py runs every query against a real Prometheus and PostgreSQL.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy.dashboards import (
    DASHBOARDS,
    PROMETHEUS_DASHBOARDS,
    ROOT,
    panels,
    prometheus_targets,
    sql_targets,
    substitute_promql,
    substitute_sql,
)
from tests.fixtures.tools import require_tool

GENERATOR = ROOT / "deploy" / "grafana" / "generate.py"
CATALOGUE = ROOT / "docs" / "METRICS.md"
PLUGINS = {"sma-overview.json": "prometheus", "sma-platform.json": "prometheus",
           "sma-analytics.json": "grafana-postgresql-datasource"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__timeFilter", "__timeGroupAlias", "__timeGroup",
                    "__timeFrom", "__timeTo"}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sma_grafana_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARDS[name].read_text())
    return data


def test_the_json_is_what_the_generator_writes() -> None:
    rendered = generator().render()
    assert set(rendered) == set(DASHBOARDS) == set(PLUGINS)
    stale = [name for name, text in rendered.items() if DASHBOARDS[name].read_text() != text]
    assert not stale, f"run `.venv/bin/python deploy/grafana/generate.py`: {stale} out of date"


def test_uids_and_panel_ids_are_unique() -> None:
    uids = [load(n)["uid"] for n in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for name in DASHBOARDS:
        ids = [p["id"] for p in panels(load(name))]
        assert len(set(ids)) == len(ids), name
        for p in panels(load(name)):
            grid = p["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name} / {p['title']} overflows the grid"


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_every_panel_reads_the_datasource_variable(name: str) -> None:
    dashboard = load(name)
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert variable["type"] == "datasource" and variable["query"] == PLUGINS[name]
    wanted = {"type": PLUGINS[name], "uid": "${datasource}"}
    for p in panels(dashboard):
        if p["type"] == "row":
            continue
        assert p["datasource"] == wanted, p["title"]
        assert p["targets"], p["title"]
        for target in p["targets"]:
            assert target["datasource"] == wanted, p["title"]
            assert ("expr" in target) == (PLUGINS[name] == "prometheus"), p["title"]


def test_the_platform_view_has_a_platform_variable_used_by_every_query() -> None:
    dashboard = load("sma-platform.json")
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "platform"]
    assert "label_values(" in variable["definition"] and "platform" in variable["definition"]
    for _, title, expr in prometheus_targets([DASHBOARDS["sma-platform.json"]]):
        assert 'platform="$platform"' in expr, title


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    dashboard = load(name)
    defined = {v["name"] for v in dashboard["templating"]["list"]} | GRAFANA_BUILTINS
    texts = [t.get("expr") or t.get("rawSql", "") for p in panels(dashboard) for t in p.get("targets", [])]
    texts += [p["title"] for p in panels(dashboard)]
    texts += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {m.group(1) or m.group(2) for text in texts for m in re.finditer(r"\$\{(\w+)\}|\$(\w+)", text)}
    assert used - defined == set()


def test_panels_use_only_catalogued_metrics() -> None:
    catalogued = set(re.findall(r"^\|\s*`(sma_[a-z0-9_]+)`", CATALOGUE.read_text(), flags=re.MULTILINE))
    used = {re.sub(r"_(bucket|count|sum)$", "", name)
            for _, _, expr in prometheus_targets(PROMETHEUS_DASHBOARDS)
            for name in re.findall(r"\bsma_[a-z0-9_]+", expr)}
    assert used and used - catalogued == set(), "metrics docs/METRICS.md does not list"


def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:panel_{i}", "expr": substitute_promql(expr, platform="twitch")}
             for i, (_, _, expr) in enumerate(prometheus_targets(PROMETHEUS_DASHBOARDS))]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([require_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sql_macros_and_variables_are_substituted_like_grafana() -> None:
    raw = ("SELECT $__timeGroupAlias(ts, '1h'), count(*) FROM t WHERE $__timeFilter(ts) "
           "AND p = '$platform' AND id IN ($account) AND ts < $__timeTo()")
    out = substitute_sql(raw, {"platform": "x", "account": "'1','2'"})
    assert 'floor(extract(epoch FROM ts) / 3600) * 3600 AS "time"' in out
    assert "ts BETWEEN '" in out and "p = 'x' AND id IN ('1','2')" in out and "$" not in out
    with pytest.raises(KeyError):
        substitute_sql("SELECT '$unknown'", {})
    assert list(sql_targets(DASHBOARDS["sma-analytics.json"]))
