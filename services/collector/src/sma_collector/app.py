"""Composition root of the collector: the one place its parts are built and wired."""

from __future__ import annotations

from collections.abc import Iterable

from sma_collector import __version__
from sma_collector.consumer_loop import ConsumerLoop, InFlightGuard
from sma_collector.handler import CommandHandler
from sma_collector.metrics import CollectorMetrics
from sma_collector.settings import CollectorSettings
from sma_common.cache_versions import RedisBreaker, bump_account_versions
from sma_common.clock import Clock, SystemClock
from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.kafka import KafkaConsumer, KafkaProducer
from sma_common.redis import RedisClient
from sma_common.service import Service
from sma_platforms import AdapterSet, build_adapters


def build(settings: CollectorSettings, clock: Clock | None = None) -> Service:
    clock = clock or SystemClock()
    service = Service.from_settings("collector", __version__, settings)
    registry = service.registry
    metrics = CollectorMetrics.create(registry)
    db = DatabasePool(settings, application_name="sma-collector")
    adapters = AdapterSet(build_adapters(settings))
    producer = KafkaProducer(settings, client_id=f"sma-collector-{settings.instance}")
    guard = InFlightGuard()
    consumer = KafkaConsumer(settings, client_id=f"sma-collector-{settings.instance}",
                             max_poll_records=settings.collector_max_poll_records, listener=guard)
    # Optional: without Redis the collector works on, and cached reads age out on their TTL.
    redis = RedisClient(settings, required=False, check_severity="degraded")
    breaker = RedisBreaker(settings.collector_redis_retry_seconds)

    async def invalidate(account_ids: Iterable[int]) -> None:
        ok = await bump_account_versions(redis, breaker, account_ids)
        metrics.cache_invalidations.labels("ok" if ok else "skipped").inc()

    handler = CommandHandler(db, adapters.adapters, metrics, clock, settings.instance, invalidate)
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
    service.add_loop("consume", loop.run)
    service.add_loop("heartbeat", heartbeat.run)
    return service
