"""The Kafka consumer as a service resource: manual commits only, lag from its own view.

Lag is `highwater - position` per assigned partition, as seen by this consumer (the admin
API's group offsets are not reliable on every Kafka-protocol broker, ARCHITECTURE.md). The
owner refreshes it with `refresh_lag()` after each poll; every assigned partition counts,
also one that is stuck on a failing message or was just gained in a rebalance.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError

from sma_common.kafka.connection import start_client
from sma_common.kafka.topics import ensure_topics, project_topics
from sma_common.settings import KafkaSettings


class KafkaConsumer:
    name = "kafka-consumer"

    def __init__(self, settings: KafkaSettings, client_id: str, *, max_poll_records: int = 50,
                 listener: ConsumerRebalanceListener | None = None) -> None:
        self._settings = settings
        self._client_id = client_id
        self._max_poll_records = max_poll_records
        self._listener = listener
        self._consumer: AIOKafkaConsumer | None = None
        self._lag: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        s = self._settings
        await ensure_topics(s.kafka_bootstrap_servers, project_topics(s), timeout=s.kafka_connect_timeout_seconds)
        self._consumer = await start_client(
            lambda: AIOKafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap_servers,
                client_id=self._client_id,
                group_id=s.kafka_consumer_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
                max_poll_records=self._max_poll_records,
                session_timeout_ms=s.kafka_session_timeout_ms,
                heartbeat_interval_ms=min(3_000, s.kafka_session_timeout_ms // 3),
                max_poll_interval_ms=300_000,
            ),
            timeout=s.kafka_connect_timeout_seconds,
            what="kafka.consumer_connect",
        )
        # Subscribing here (not in the constructor) is what lets a rebalance listener take part.
        self._consumer.subscribe([s.kafka_commands_topic], listener=self._listener)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()  # leaves the group so partitions move at once
            self._consumer = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("kafka consumer is not started")
        return self._consumer

    async def refresh_lag(self) -> int:
        """Recompute lag for every assigned partition; returns the total."""
        if self._consumer is None:
            return 0
        lag: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from it yet: the broker has not told us its end
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:
                continue  # revoked meanwhile
            lag[tp] = max(0, highwater - position)
        self._lag = lag
        return sum(lag.values())

    def lag(self) -> dict[TopicPartition, int]:
        return dict(self._lag)

    def details(self) -> dict[str, object]:
        if self._consumer is None:
            return {"started": False}
        lag = self.lag()
        return {
            "started": True,
            "group": self._settings.kafka_consumer_group,
            "assigned_partitions": sorted(tp.partition for tp in self._consumer.assignment()),
            "lag": sum(lag.values()),
        }
