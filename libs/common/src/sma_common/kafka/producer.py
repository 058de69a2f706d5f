"""The Kafka producer as a service resource: acks=all, delivery awaited, topics ensured first."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from sma_common.kafka.connection import start_client
from sma_common.kafka.topics import ensure_topics, project_topics
from sma_common.settings import KafkaSettings


class KafkaProducer:
    name = "kafka-producer"

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        s = self._settings
        await ensure_topics(s.kafka_bootstrap_servers, project_topics(s), timeout=s.kafka_connect_timeout_seconds)
        self._producer = await start_client(
            lambda: AIOKafkaProducer(
                bootstrap_servers=s.kafka_bootstrap_servers,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=s.kafka_enable_idempotence,
                linger_ms=5,
                request_timeout_ms=15_000,
            ),
            timeout=s.kafka_connect_timeout_seconds,
            what="kafka.producer_connect",
        )

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes what is buffered
            self._producer = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("kafka producer is not started")
        return self._producer

    async def send_batch(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        """Send (key, value) pairs and wait until the broker acknowledged every one."""
        futures = [await self.producer.send(topic, value=value, key=key) for key, value in messages]
        for future in futures:
            await future

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        await self.producer.send_and_wait(topic, value=value, key=key, headers=headers)
