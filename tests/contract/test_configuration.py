"""docs/CONFIGURATION.md lists exactly the variables the services read."""

import re
from pathlib import Path

from sma_collector.settings import CollectorSettings
from sma_devstack.stack import DEFAULT_PORTS
from sma_gateway.settings import GatewaySettings
from sma_maintenance.settings import MaintenanceSettings
from sma_scheduler.settings import SchedulerSettings
from sma_simulator.settings import SimulatorSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md").read_text()
SETTINGS = (SchedulerSettings, CollectorSettings, GatewaySettings, MaintenanceSettings, SimulatorSettings)
STACK_VARIABLES = {"SMA_RUN_DIR"} | {f"SMA_{name.upper()}_PORT" for name in DEFAULT_PORTS}


def read_variables() -> set[str]:
    return {f"SMA_{name.upper()}" for cls in SETTINGS for name in cls.model_fields} | STACK_VARIABLES


def test_every_variable_read_is_documented() -> None:
    documented = set(re.findall(r"`(SMA_[A-Z0-9_]+)`", DOC))
    assert read_variables() - documented == set()


def test_nothing_documented_is_read_by_nobody() -> None:
    documented = set(re.findall(r"\b(SMA_[A-Z0-9_]+)\b", DOC))
    stale = {v for v in documented - read_variables() if not v.endswith("_FILE")}
    assert stale == set()
