"""docs/METRICS.md lists every `sma_*` metric a service exports, with the right type, and nothing
that nobody exports. Metrics shared by every service are listed once, under "Every service"."""

import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from sma_collector.app import build as build_collector
from sma_collector.settings import CollectorSettings
from sma_common.metrics import create_registry
from sma_gateway.app import build as build_gateway
from sma_gateway.settings import GatewaySettings
from sma_maintenance.app import build as build_maintenance
from sma_maintenance.settings import MaintenanceSettings
from sma_scheduler.app import build as build_scheduler
from sma_scheduler.settings import SchedulerSettings
from sma_simulator.app import create_app as create_simulator
from sma_simulator.settings import SimulatorSettings

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "METRICS.md"
STANDARD_PREFIXES = ("process_", "python_")
# A table row whose first cell is one backquoted `sma_…` name; the second cell is its type.
ROW = re.compile(r"^\|\s*`(sma_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|")


def _simulator_registry() -> CollectorRegistry:
    registry = create_registry("simulator", "0")
    create_simulator(SimulatorSettings(), registry=registry)
    return registry


REGISTRIES: dict[str, Callable[[], CollectorRegistry]] = {
    "scheduler": lambda: build_scheduler(SchedulerSettings()).registry,
    "collector": lambda: build_collector(CollectorSettings()).registry,
    "gateway": lambda: build_gateway(GatewaySettings()).registry,
    "maintenance": lambda: build_maintenance(MaintenanceSettings()).registry,
    "simulator": _simulator_registry,
}


def exported(registry: CollectorRegistry) -> dict[str, str]:
    """Name → type of the registry's families, as scraped (counters with their `_total`)."""
    found = {}
    for family in registry.collect():
        if family.name.startswith(STANDARD_PREFIXES):
            continue
        name = f"{family.name}_total" if family.type == "counter" else family.name
        found[name] = family.type
    return found


def catalogued(text: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if match := ROW.match(line.strip()):
            name, kind = match.groups()
            assert name not in rows, f"{name} is listed twice in docs/METRICS.md"
            rows[name] = kind
    return rows


def test_the_parser_reads_only_metric_rows() -> None:
    text = "\n".join([
        "| name | type | unit | labels | meaning |",
        "|---|---|---|---|---|",
        "| `sma_a_total` | counter | events | `platform` | A `sma_b` mention in the meaning. |",
        "|  `sma_c_seconds`  |  histogram  | seconds | none | x |",
        "| `other_metric` | gauge | 1 | none | not ours |",
        "Prose naming `sma_d` is not a row.",
    ])
    assert catalogued(text) == {"sma_a_total": "counter", "sma_c_seconds": "histogram"}


def test_the_catalogue_matches_what_the_services_export() -> None:
    exports: dict[str, str] = {}
    mismatched = []
    for service, build in REGISTRIES.items():
        for name, kind in exported(build()).items():
            if exports.setdefault(name, kind) != kind:
                mismatched.append(f"{name}: {exports[name]} in one service, {kind} in {service}")
    listed = catalogued(CATALOGUE.read_text())
    assert listed, "no metric rows found in docs/METRICS.md"
    missing = sorted(set(exports) - set(listed))
    unexported = sorted(set(listed) - set(exports))
    mismatched += [f"{n}: exported as {exports[n]}, catalogued as {listed[n]}"
                   for n in sorted(set(exports) & set(listed)) if exports[n] != listed[n]]
    problems = (
        [f"missing from docs/METRICS.md: {n} ({exports[n]})" for n in missing]
        + [f"in docs/METRICS.md but exported by no service: {n}" for n in unexported]
        + mismatched
    )
    assert not problems, "\n".join(problems)


def test_each_service_section_lists_its_own_metrics() -> None:
    """`sma_<service>_…` rows sit under that service's heading; shared ones under "Every service"."""
    sections = {"Every service": "", "Scheduler": "scheduler", "Collector": "collector", "Gateway": "gateway",
                "Maintenance": "maintenance", "Simulator": "simulator"}
    services = {s for s in sections.values() if s}
    heading = None
    for line in CATALOGUE.read_text().splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif match := ROW.match(line.strip()):
            name = match.group(1)
            owner = next((s for s in services if name.startswith(f"sma_{s}_")), "")
            assert heading in sections, f"{name} is under '{heading}', not a service section"
            assert sections[heading] == owner, f"{name} belongs under the {owner or 'Every service'} section"
