"""Composition root of the scheduler: the one place its parts are built and wired."""

from __future__ import annotations

from datetime import timedelta

from sma_common.clock import Clock, SystemClock
from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.health import Check, CheckFailed
from sma_common.kafka import KafkaProducer
from sma_common.rate_limit import SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.service import Service
from sma_scheduler import __version__
from sma_scheduler.metrics import SchedulerMetrics
from sma_scheduler.pressure import Pressure
from sma_scheduler.settings import SchedulerSettings
from sma_scheduler.tick import Ticker


def build(settings: SchedulerSettings, clock: Clock | None = None) -> Service:
    clock = clock or SystemClock()
    service = Service.from_settings("scheduler", __version__, settings)
    registry = service.registry
    db = DatabasePool(settings, application_name="sma-scheduler")
    producer = KafkaProducer(settings, client_id=f"sma-scheduler-{settings.instance}")
    # Optional: without Redis the scheduler does not see the platforms' holds (the collectors
    # still refuse held calls), and everything else goes on.
    redis = RedisClient(settings, required=False, check_severity="degraded")
    metrics = SchedulerMetrics.create(registry)
    pressure = Pressure(settings, SharedRateLimiter(redis), metrics)
    ticker = Ticker(settings, db, producer, metrics, clock, pressure)
    heartbeat = HeartbeatWriter(db, "scheduler", settings.instance, ticker.details,
                                interval=settings.scheduler_heartbeat_seconds)

    async def ticking() -> str | None:
        stale_after = timedelta(seconds=max(30.0, settings.scheduler_tick_seconds * 10))
        if ticker.last_tick_at is None:
            return "no tick yet"
        age = clock.now() - ticker.last_tick_at
        if age > stale_after:
            raise CheckFailed(f"last successful tick {age.total_seconds():.0f}s ago")
        return f"last tick {age.total_seconds():.1f}s ago"

    service.add_resource(db)
    service.add_resource(redis)
    service.add_resource(producer)
    service.add_check(db.check())
    service.add_check(redis.check())
    service.add_check(Check("tick", ticking, severity="fail"))
    service.add_details("database_pool", db.details)
    service.add_details("ticker", ticker.details)
    service.add_loop("tick", ticker.run)
    service.add_loop("heartbeat", heartbeat.run)
    return service
