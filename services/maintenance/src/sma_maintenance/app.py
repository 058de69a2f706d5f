"""Composition root of the maintenance service."""

from __future__ import annotations

from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.service import Service
from sma_maintenance import __version__
from sma_maintenance.runner import Runner
from sma_maintenance.settings import MaintenanceSettings


def build(settings: MaintenanceSettings) -> Service:
    service = Service.from_settings("maintenance", __version__, settings)
    registry = service.registry
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
