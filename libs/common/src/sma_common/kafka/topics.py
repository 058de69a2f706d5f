"""Topics are created by the project at start-up (never by broker auto-create)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from sma_common.kafka.connection import CONNECT_ERRORS
from sma_common.retry import RetryPolicy
from sma_common.settings import KafkaSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int


def project_topics(settings: KafkaSettings) -> list[TopicSpec]:
    return [
        TopicSpec(settings.kafka_commands_topic, settings.kafka_topic_partitions, settings.kafka_replication_factor),
        TopicSpec(settings.kafka_dlq_topic, 1, settings.kafka_replication_factor),
    ]


async def _create_missing(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created = []
        for spec in missing:
            try:
                await admin.create_topics([NewTopic(spec.name, spec.partitions, spec.replication_factor)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another replica won the race
        return created
    finally:
        await admin.close()


async def ensure_topics(bootstrap: str, specs: list[TopicSpec], *, timeout: float = 30.0) -> None:
    policy = RetryPolicy(on=CONNECT_ERRORS, max_attempts=1000, max_elapsed=timeout,
                         base_delay=0.2, max_delay=2.0)
    created = await policy.call(lambda: _create_missing(bootstrap, specs), what="kafka.ensure_topics")
    if created:
        log.info("kafka.topics_created", topics=created)
