"""Composition root of the maintenance service."""

from __future__ import annotations

from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.metrics import create_registry
from sma_common.service import Service
from sma_maintenance import __version__
from sma_maintenance.runner import Runner
from sma_maintenance.settings import MaintenanceSettings


def build(settings: MaintenanceSettings) -> Service:
    registry = create_registry("maintenance", __version__)
    service = Service("maintenance", version=__version__, instance=settings.instance, registry=registry,
                      http_host=settings.http_host, http_port=settings.http_port,
                      drain_timeout=settings.drain_timeout_seconds)
    db = DatabasePool(settings, application_name="sma-maintenance")
    runner = Runner(settings, db, registry)
    heartbeat = HeartbeatWriter(db, "maintenance", settings.instance, runner.details,
                                interval=settings.maintenance_heartbeat_seconds)
    service.add_resource(db)
    service.add_check(db.check())
    service.add_details("database_pool", db.details)
    service.add_details("maintenance", runner.details)
    service.add_loop("maintenance", runner.run)
    service.add_loop("heartbeat", heartbeat.run)
    return service
