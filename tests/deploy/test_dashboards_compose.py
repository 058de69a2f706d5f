"""docker-compose.yml provisions Prometheus and Grafana from the repo's own files (Docker does not
run here, so this checks the wiring): every mounted path exists, Prometheus's config passes
`promtool check config` with its rule files where the mounts put them, every service is scraped
under the job name the alerts expect, and Grafana's datasources and dashboard provider point at
the compose services and the mounted dashboards."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dashboards import DASHBOARDS, ROOT
from tests.fixtures.tools import require_tool

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SMA_SERVICES = ("gateway", "scheduler", "collector", "maintenance")


def mounts(service: str) -> dict[str, Path]:
    """Container path -> repo path of the service's bind mounts."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source[2:]
    return found


def host_path(service: str, container_path: str) -> Path:
    for target, source in mounts(service).items():
        if container_path == target or container_path.startswith(target + "/"):
            return source / container_path[len(target):].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted into {service}")


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_every_mounted_path_exists(service: str) -> None:
    assert mounts(service)
    for source in mounts(service).values():
        assert source.exists(), source


def prometheus_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(host_path("prometheus", "/etc/prometheus/prometheus.yml").read_text())
    return config


def test_prometheus_loads_every_rule_file_of_the_repo() -> None:
    rule_files = {p for pattern in prometheus_config()["rule_files"]
                  for p in host_path("prometheus", pattern).parent.glob(Path(pattern).name)}
    assert rule_files == set((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """The config as the container sees it: the rule files copied where the mounts put them."""
    config = prometheus_config()
    rules_dir = tmp_path / "rules"
    shutil.copytree(host_path("prometheus", "/etc/prometheus/rules"), rules_dir)
    config["rule_files"] = [str(rules_dir / Path(p).name) for p in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run([require_tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


def test_each_service_is_scraped_as_the_alerts_expect() -> None:
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus_config()["scrape_configs"]}
    for service in SMA_SERVICES:
        port = SERVICES[service]["environment"]["SMA_HTTP_PORT"]
        assert jobs[f"sma-{service}"] == [f"{service}:{port}"]
    rules = (ROOT / "deploy" / "prometheus" / "rules" / "sma-alerts.yml").read_text()
    [pattern] = set(re.findall(r'up\{job=~"([^"]+)"\}', rules))
    assert all(re.fullmatch(pattern, job) for job in jobs)


def test_grafana_datasources_point_at_the_compose_services() -> None:
    provisioned = yaml.safe_load(host_path("grafana", "/etc/grafana/provisioning/datasources/sma.yml").read_text())
    by_type = {d["type"]: d for d in provisioned["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090" and "9090:9090" in SERVICES["prometheus"]["ports"]
    pg = by_type["grafana-postgresql-datasource"]
    assert pg["url"] == "postgres:5432"
    assert pg["jsonData"]["database"] == SERVICES["postgres"]["environment"]["POSTGRES_DB"]
    # Credentials come from Grafana's environment, never inline.
    assert pg["user"].startswith("$") and pg["secureJsonData"]["password"].startswith("$")
    assert {pg["user"][1:], pg["secureJsonData"]["password"][1:]} <= set(SERVICES["grafana"]["environment"])
    # Every dashboard's datasource plugin is provisioned.
    plugins = {yaml.safe_load(p.read_text())["templating"]["list"][0]["query"] for p in DASHBOARDS.values()}
    assert plugins <= set(by_type)


def test_grafana_provisions_the_mounted_dashboards() -> None:
    provider = yaml.safe_load(host_path("grafana", "/etc/grafana/provisioning/dashboards/sma.yml").read_text())
    [entry] = provider["providers"]
    folder = host_path("grafana", entry["options"]["path"])
    assert {p.name for p in folder.glob("*.json")} == set(DASHBOARDS)
