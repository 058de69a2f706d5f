"""The alert rules in deploy/prometheus/rules: valid and lint-clean for promtool, each alert fired
and kept silent by the unit tests in deploy/prometheus/tests, a runbook section for each, a
severity from the runbook's P1-P4, and only metrics docs/METRICS.md lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
CATALOGUE = ROOT / "docs" / "METRICS.md"
SEVERITIES = {"P1", "P2", "P3", "P4"}
# Metrics Prometheus itself makes, not ours to catalogue.
PROMETHEUS_SERIES = {"up"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("promtool")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


def alerts() -> list[dict[str, object]]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if "alert" in rule]
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> set[str]:
    headings, fenced = set(), False
    for line in RUNBOOK.read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            headings.add(github_anchor(line.lstrip("#")))
    return headings


def test_there_are_rules_and_unit_tests() -> None:
    assert RULES and RULE_TESTS
    assert len(alerts()) >= 14


def test_promtool_checks_and_lints_the_rules() -> None:
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_every_alert_is_fired_and_kept_silent_by_a_unit_test() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {str(a["alert"]) for a in alerts()}
    assert names - fired == set(), "alerts no unit test fires"
    assert names - silent == set(), "alerts no unit test shows silent in normal operation"
    assert (fired | silent) - names == set(), "unit tests of alerts that do not exist"


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: str(a["alert"]))
def test_alert_has_severity_summary_and_a_runbook_section(alert: dict[str, object]) -> None:
    labels, annotations = alert.get("labels"), alert.get("annotations")
    assert isinstance(labels, dict) and isinstance(annotations, dict)
    assert labels.get("severity") in SEVERITIES
    assert annotations.get("summary") and annotations.get("description")
    path, _, anchor = str(annotations.get("runbook_url", "")).partition("#")
    assert path == "docs/RUNBOOK.md" and anchor == str(alert["alert"]).lower()
    assert anchor in runbook_anchors(), f"docs/RUNBOOK.md has no heading for #{anchor}"


def test_the_alert_reference_links_to_existing_runbook_sections() -> None:
    reference = RUNBOOK.read_text().partition("\n## Alert reference\n")[2]
    links = set(re.findall(r"\]\(#([a-z0-9-]+)\)", reference))
    assert links and links - runbook_anchors() == set()


def test_rules_use_only_catalogued_metrics() -> None:
    catalogued = set(re.findall(r"^\|\s*`(sma_[a-z0-9_]+)`", CATALOGUE.read_text(), flags=re.MULTILINE))
    used: set[str] = set()
    for alert in alerts():
        for name in re.findall(r"\b(sma_[a-z0-9_]+|up)\b", str(alert["expr"])):
            used.add(re.sub(r"_(bucket|count|sum)$", "", name))
    assert used - catalogued - PROMETHEUS_SERIES == set(), "metrics docs/METRICS.md does not list"
