"""`python -m sma_simulator`: the platform simulator as a service (health, metrics, drain)."""

from __future__ import annotations

import asyncio
import sys

from sma_common.logging import configure_logging
from sma_common.metrics import create_registry
from sma_common.service import Service
from sma_simulator import __version__
from sma_simulator.app import install_simulator
from sma_simulator.settings import SimulatorSettings


def build(settings: SimulatorSettings) -> Service:
    """The composition root: one registry, the Service's app with the simulator mounted on it."""
    registry = create_registry("simulator", __version__)
    service = Service(
        "simulator", version=__version__, instance=settings.instance, registry=registry,
        http_host=settings.http_host, http_port=settings.http_port, drain_timeout=settings.drain_timeout_seconds,
    )
    install_simulator(service.app, settings, registry=registry)
    return service


def main() -> None:
    settings = SimulatorSettings()
    configure_logging(settings.log_level, settings.log_format, service="simulator")
    sys.exit(asyncio.run(build(settings).run()))


if __name__ == "__main__":
    main()
