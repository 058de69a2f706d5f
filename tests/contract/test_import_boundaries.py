"""Import rules of the monorepo (STYLE.md P13): libraries never import apps, services never
import each other, and each package's public surface is what it says it is."""

import ast
from pathlib import Path

import pytest

import sma_common

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "sma_common": ROOT / "libs/common/src/sma_common",
    "sma_platforms": ROOT / "libs/platforms/src/sma_platforms",
    "sma_devstack": ROOT / "libs/devstack/src/sma_devstack",
    "sma_scheduler": ROOT / "services/scheduler/src/sma_scheduler",
    "sma_collector": ROOT / "services/collector/src/sma_collector",
    "sma_gateway": ROOT / "services/api-gateway/src/sma_gateway",
    "sma_maintenance": ROOT / "services/maintenance/src/sma_maintenance",
    "sma_simulator": ROOT / "simulator/src/sma_simulator",
    "sma_cli": ROOT / "cli/src/sma_cli",
}
SERVICES = {"sma_scheduler", "sma_collector", "sma_gateway", "sma_maintenance"}
# What each package may import from the others (besides itself).
ALLOWED = {
    "sma_common": set(),
    "sma_platforms": {"sma_common"},
    "sma_devstack": {"sma_common"},
    "sma_scheduler": {"sma_common"},
    "sma_collector": {"sma_common", "sma_platforms"},
    "sma_gateway": {"sma_common", "sma_platforms"},
    "sma_maintenance": {"sma_common"},
    "sma_simulator": {"sma_common"},
    "sma_cli": {"sma_common", "sma_maintenance"},
}


def imported_packages(package_dir: Path) -> set[str]:
    found = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name in PACKAGES}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_it_may(package: str) -> None:
    assert imported_packages(PACKAGES[package]) - {package} <= ALLOWED[package]


def test_the_cli_uses_nothing_of_maintenance_but_its_operations() -> None:
    for path in PACKAGES["sma_cli"].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sma_maintenance"):
                assert node.module.startswith("sma_maintenance.operations"), path


def test_sma_common_public_surface() -> None:
    assert sorted(sma_common.__all__) == sorted([
        "METRIC_IDS", "Check", "CheckFailed", "CheckResult", "Clock", "FakeClock", "Platform", "Resource",
        "RetryPolicy", "Service", "SystemClock", "__version__", "configure_logging", "create_registry",
        "sleep_or_stop",
    ])
    for name in sma_common.__all__:
        assert hasattr(sma_common, name), name
