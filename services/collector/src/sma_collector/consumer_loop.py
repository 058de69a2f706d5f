"""The consumer loop: poll, handle each command, then commit its offset; never the other way.

- Offsets are committed only after the command's transaction committed (at-least-once).
- An undecodable message goes to the dead-letter topic with the error, and is committed; too
  many in a row stop the collector (a bad deploy must not dead-letter the whole topic).
- A transient failure (database or broker down) seeks back to the failed message and backs
  off; nothing after it on that partition is committed meanwhile.
- On stop, the command in hand is finished and committed before the loop returns.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from sma_collector.handler import CommandHandler
from sma_collector.metrics import CollectorMetrics
from sma_collector.settings import CollectorSettings
from sma_common.errors import InvalidCommand, TransientError
from sma_common.kafka import KafkaConsumer, KafkaProducer
from sma_common.messages import decode_command
from sma_common.service import sleep_or_stop

log = structlog.get_logger(__name__)

TRANSIENT_ERRORS = (TransientError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, KafkaError)


class DeadLetterLimitExceeded(RuntimeError):
    pass


class ConsumerLoop:
    def __init__(self, settings: CollectorSettings, consumer: KafkaConsumer, producer: KafkaProducer,
                 handler: CommandHandler, metrics: CollectorMetrics) -> None:
        self._settings, self._consumer, self._producer = settings, consumer, producer
        self._handler, self._metrics = handler, metrics
        self._consecutive_dead = 0
        self.failures = 0

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self._consumer.consumer
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self._settings.collector_max_poll_records)
            for tp, records in batches.items():
                if stopping.is_set():
                    break
                await self._process_partition(tp, records, stopping)
            self._metrics.consumer_lag.set(sum(self._consumer.lag().values()))

    async def _process_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], stopping: asyncio.Event
    ) -> None:
        consumer = self._consumer.consumer
        for record in records:
            try:
                await self._process(record)
            except TRANSIENT_ERRORS as exc:
                self.failures += 1
                log.warning("collector.command_failed_will_retry", error=repr(exc), partition=tp.partition,
                            offset=record.offset)
                consumer.seek(tp, record.offset)
                await sleep_or_stop(stopping, self._settings.collector_retry_backoff_seconds)
                return
            await consumer.commit({tp: record.offset + 1})
            self._consumer.note_consumed(tp, record.offset)
            if stopping.is_set():
                # Hand the rest back: uncommitted, they go to whoever owns the partition next.
                return

    async def _process(self, record: ConsumerRecord) -> None:
        try:
            command = decode_command(record.value)
        except InvalidCommand as exc:
            await self._dead_letter(record, exc)
            return
        self._consecutive_dead = 0
        with structlog.contextvars.bound_contextvars(command_id=command.command_id, platform=command.platform.value):
            await self._handler.handle(command)

    async def _dead_letter(self, record: ConsumerRecord, exc: InvalidCommand) -> None:
        self._consecutive_dead += 1
        if self._consecutive_dead > self._settings.collector_dlq_max_consecutive:
            raise DeadLetterLimitExceeded(f"{self._consecutive_dead} undecodable commands in a row; stopping")
        headers = [
            ("error", str(exc).encode()[:1000]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        await self._producer.send(self._settings.kafka_dlq_topic, record.key, record.value or b"", headers)
        self._metrics.dead_letters.inc()
        log.warning("collector.dead_lettered", error=str(exc), partition=record.partition, offset=record.offset)
