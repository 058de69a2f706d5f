"""Composition root of the collector: the one place its parts are built and wired."""

from __future__ import annotations

from collections.abc import Iterable

from sma_collector import __version__
from sma_collector.consumer_loop import ConsumerLoop, InFlightGuard
from sma_collector.handler import CommandHandler
from sma_collector.metrics import CollectorMetrics
from sma_collector.repository import record_commands
from sma_collector.settings import CollectorSettings
from sma_collector.writer import GroupWriter
from sma_common.cache_versions import RedisBreaker, bump_account_versions
from sma_common.clock import Clock, SystemClock
from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.kafka import KafkaConsumer, KafkaProducer
from sma_common.rate_limit import SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.service import Service
from sma_platforms import AdapterSet, build_adapters
from sma_platforms.budget import build_gates


def build(settings: CollectorSettings, clock: Clock | None = None) -> Service:
    clock = clock or SystemClock()
    service = Service.from_settings("collector", __version__, settings)
    registry = service.registry
    metrics = CollectorMetrics.create(registry)
    db = DatabasePool(settings, application_name="sma-collector")
    # Optional: without Redis the collector works on; cached reads age out on their TTL, and the
    # platform budgets fall back to this process's view (sma_platforms.budget).
    redis = RedisClient(settings, required=False, check_severity="degraded")
    gates = build_gates(SharedRateLimiter(redis), settings, clock=clock, listener=metrics)
    adapters = AdapterSet(build_adapters(settings, gates=gates))
    producer = KafkaProducer(settings, client_id=f"sma-collector-{settings.instance}")
    guard = InFlightGuard()
    consumer = KafkaConsumer(settings, client_id=f"sma-collector-{settings.instance}",
                             max_poll_records=settings.collector_max_poll_records, listener=guard)
    breaker = RedisBreaker(settings.collector_redis_retry_seconds)

    async def invalidate(account_ids: Iterable[int]) -> None:
        ok = await bump_account_versions(redis, breaker, account_ids)
        metrics.cache_invalidations.labels("ok" if ok else "skipped").inc()

    writer = GroupWriter(lambda batch: record_commands(db.pool, batch), max_batch=settings.collector_write_batch_max)
    handler = CommandHandler(db, adapters.adapters, metrics, clock, settings.instance, invalidate, writer.write)
    loop = ConsumerLoop(settings, consumer, producer, handler, metrics, guard)
    heartbeat = HeartbeatWriter(db, "collector", settings.instance, consumer.details)

    # Start order: pool and adapters before the consumer joins the group; stop order is the
    # reverse, so the consumer leaves the group before the pool closes.
    for resource in (db, redis, adapters, producer, consumer):
        service.add_resource(resource)
    service.add_check(db.check())
    service.add_check(redis.check())
    service.add_details("database_pool", db.details)
    service.add_details("consumer", consumer.details)
    service.add_details("platforms", adapters.details)
    service.add_details("budgets", lambda: {p.value: gate.details() for p, gate in gates.items()})
    service.add_loop("consume", loop.run)
    service.add_loop("heartbeat", heartbeat.run)
    return service
