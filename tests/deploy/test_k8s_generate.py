"""deploy/k8s/generate.py packages the alert rules and dashboards kept once in the repo as a
PrometheusRule per rule file and a Grafana-sidecar ConfigMap per dashboard; the committed output
must match what the generator writes now."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.fixtures.tools import ROOT

K8S = ROOT / "deploy" / "k8s"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sma_deploy_{name}", K8S / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The generator pointed at a scratch repo layout."""
    module = _module("generate")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RULES_DIR", tmp_path / "deploy/prometheus/rules")
    monkeypatch.setattr(module, "DASHBOARDS_DIR", tmp_path / "deploy/grafana/dashboards")
    monkeypatch.setattr(module, "OUT_DIR", tmp_path / "deploy/k8s/base/monitoring")
    (tmp_path / "deploy/prometheus/rules").mkdir(parents=True)
    (tmp_path / "deploy/grafana/dashboards").mkdir(parents=True)
    return module


RULES = {
    "groups": [{
        "name": "sma-availability",
        "rules": [{
            "alert": "SmaServiceDown",
            "expr": 'up{job=~"sma-.*"} == 0',
            "for": "2m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "{{ $labels.job }} is down", "runbook_url": "docs/RUNBOOK.md#service-down"},
        }],
    }],
}
DASHBOARD = {"uid": "sma-overview", "title": "SMA overview",
             "panels": [{"type": "timeseries", "targets": [{"expr": "up"}]}]}


def test_committed_output_is_up_to_date() -> None:
    generate = _module("generate")
    assert generate.main(["--check"]) == 0, "run `python deploy/k8s/generate.py` and commit base/monitoring/"


def test_rule_files_and_dashboards_become_prometheus_rules_and_sidecar_configmaps(generate: ModuleType) -> None:
    (generate.RULES_DIR / "availability.yml").write_text(yaml.safe_dump(RULES))
    (generate.DASHBOARDS_DIR / "SMA Overview.json").write_text(json.dumps(DASHBOARD, indent=2))
    files = generate.render()
    resources = yaml.safe_load(files["kustomization.yaml"])["resources"]
    assert resources == ["prometheus-rules.yaml", "grafana-dashboards.yaml"]

    (rule,) = list(yaml.safe_load_all(files["prometheus-rules.yaml"]))
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["name"] == "sma-availability"
    assert rule["spec"] == RULES  # the rule file's groups, unchanged
    validate_crds = _module("validate_crds")
    assert validate_crds.validate_document(rule) == []

    (cm,) = list(yaml.safe_load_all(files["grafana-dashboards.yaml"]))
    assert cm["metadata"]["name"] == "sma-dashboard-overview"  # a valid object name, no doubled prefix
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["SMA Overview.json"]) == DASHBOARD


def test_check_reports_stale_and_leftover_files(generate: ModuleType) -> None:
    (generate.RULES_DIR / "availability.yml").write_text(yaml.safe_dump(RULES))
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    changed = {**RULES, "groups": [{**RULES["groups"][0], "name": "renamed"}]}
    (generate.RULES_DIR / "availability.yml").write_text(yaml.safe_dump(changed))
    assert generate.stale(generate.render()) == ["prometheus-rules.yaml"]
    assert generate.main(["--check"]) == 1
    # A removed rule file leaves a generated file nothing produces any more.
    (generate.RULES_DIR / "availability.yml").unlink()
    assert "prometheus-rules.yaml" in generate.stale(generate.render())
    assert generate.main([]) == 0
    assert not (generate.OUT_DIR / "prometheus-rules.yaml").exists()
    assert yaml.safe_load((generate.OUT_DIR / "kustomization.yaml").read_text())["resources"] == []


@pytest.mark.parametrize(("name", "content", "message"), [
    ("broken.yml", "groups: [", "not valid YAML"),
    ("plain.yml", "scrape_configs: []", "no top-level `groups` list"),
])
def test_a_bad_rule_file_is_named_in_a_clear_error(
    generate: ModuleType, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    (generate.RULES_DIR / name).write_text(content)
    assert generate.main([]) == 2
    err = capsys.readouterr().err
    assert f"deploy/prometheus/rules/{name}" in err and message in err
    assert "Traceback" not in err


def test_a_bad_dashboard_is_named_in_a_clear_error(generate: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    (generate.DASHBOARDS_DIR / "half.json").write_text('{"panels": [')
    assert generate.main(["--check"]) == 2
    assert "deploy/grafana/dashboards/half.json: not valid JSON" in capsys.readouterr().err


def test_every_rule_file_and_dashboard_in_the_repo_is_packaged() -> None:
    generate = _module("generate")
    files = generate.render()
    rules = list(yaml.safe_load_all(files.get("prometheus-rules.yaml", "")))
    dashboards = list(yaml.safe_load_all(files.get("grafana-dashboards.yaml", "")))
    assert len([r for r in rules if r]) == len(generate._rule_files())
    assert len([d for d in dashboards if d]) == len(generate._dashboard_files())
    names = [d["metadata"]["name"] for d in [*rules, *dashboards] if d]
    assert len(names) == len(set(names)), "two source files map to the same object name"
    # `kubectl apply` keeps a copy in an annotation limited to 256 KiB: each ConfigMap stays below.
    for d in dashboards:
        if d:
            assert sum(len(v.encode()) for v in d["data"].values()) < 200_000, d["metadata"]["name"]
