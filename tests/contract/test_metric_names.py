"""Every metric a service exports follows the contract: `sma_` prefix, base units, counters end
in `_total`, and labels of bounded cardinality (never an id or a raw path)."""

import re

import pytest
from prometheus_client import CollectorRegistry

from sma_collector.app import build as build_collector
from sma_collector.settings import CollectorSettings
from sma_gateway.app import build as build_gateway
from sma_gateway.settings import GatewaySettings
from sma_maintenance.app import build as build_maintenance
from sma_maintenance.settings import MaintenanceSettings
from sma_scheduler.app import build as build_scheduler
from sma_scheduler.settings import SchedulerSettings

BUILDERS = {
    "scheduler": lambda: build_scheduler(SchedulerSettings()),
    "collector": lambda: build_collector(CollectorSettings()),
    "gateway": lambda: build_gateway(GatewaySettings()),
    "maintenance": lambda: build_maintenance(MaintenanceSettings()),
}
STANDARD_PREFIXES = ("process_", "python_")
UNBOUNDED_LABELS = {"account_id", "job_id", "path", "url", "id", "handle", "error", "command_id"}
ABBREVIATED_UNITS = re.compile(r"_(ms|msec|millis|secs?|kb|mb|bytes_total_bytes)(_|$)")


def families(registry: CollectorRegistry):  # type: ignore[no-untyped-def]
    return [f for f in registry.collect() if not f.name.startswith(STANDARD_PREFIXES)]


@pytest.mark.parametrize("service", BUILDERS)
def test_metric_names_follow_the_contract(service: str) -> None:
    registry = BUILDERS[service]().registry
    found = families(registry)
    assert any(f.name == "sma_build_info" for f in found)
    for family in found:
        assert family.name.startswith("sma_"), family.name
        assert not ABBREVIATED_UNITS.search(family.name), family.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_bytes", "_messages")), f"{family.name}: not a base unit"
        if family.type in ("gauge", "histogram"):
            # Only counters may end in _total (prometheus_client adds it to counters itself).
            assert not family.name.endswith("_total"), family.name
        assert family.documentation, f"{family.name} has no help text"
    # Label names of every metric, used or not (private, but the only place they are listed).
    for collector in list(registry._collector_to_names):
        labels = set(getattr(collector, "_labelnames", ()))
        assert not labels & UNBOUNDED_LABELS, (registry._collector_to_names[collector], labels)
