"""`python -m sma_simulator`: the platform simulator as a service (health, metrics, drain)."""

from __future__ import annotations

from sma_common.entrypoint import run_service
from sma_common.service import Service
from sma_simulator import __version__
from sma_simulator.app import install_simulator
from sma_simulator.settings import SimulatorSettings


def build(settings: SimulatorSettings) -> Service:
    """The composition root: the Service's app with the simulator mounted on it."""
    service = Service.from_settings("simulator", __version__, settings)
    install_simulator(service.app, settings, registry=service.registry)
    return service


if __name__ == "__main__":
    run_service("simulator", SimulatorSettings, build)
