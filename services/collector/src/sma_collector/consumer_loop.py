"""The consumer loop: poll, handle each command, then commit its offset; never the other way.

- Offsets are committed only after the command's transaction committed (at-least-once).
- A poison command goes to the dead-letter topic with the error and is committed: one that
  does not decode, or whose write the database refuses for good (a constraint, a missing
  partition). Too many in a row stop the collector: a bad deploy must not dead-letter the
  whole topic.
- A transient failure (database or broker down) seeks back to the failed command and backs
  off; nothing after it on that partition is committed meanwhile, and its lag shows it.
- A rebalance waits for the command in hand (the revoke listener takes the same lock), and a
  partition lost meanwhile only drops the rest of its batch: the new owner redelivers it.
- On stop, the command in hand is finished and committed before the loop returns.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from sma_collector.handler import CommandHandler
from sma_collector.metrics import CollectorMetrics
from sma_collector.settings import CollectorSettings
from sma_common.db import TRANSIENT_DB_ERRORS
from sma_common.errors import InvalidCommand, TransientError
from sma_common.kafka import KafkaConsumer, KafkaProducer
from sma_common.messages import decode_command
from sma_common.service import sleep_or_stop

log = structlog.get_logger(__name__)

TRANSIENT_ERRORS = (*TRANSIENT_DB_ERRORS, TransientError, KafkaError)
LOST_PARTITION_ERRORS = (IllegalStateError, CommitFailedError)


class DeadLetterLimitExceeded(RuntimeError):
    pass


class InFlightGuard(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the command in hand is committed (or handed back)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            log.info("collector.partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("collector.partitions_assigned", partitions=sorted(tp.partition for tp in assigned))


class ConsumerLoop:
    def __init__(self, settings: CollectorSettings, consumer: KafkaConsumer, producer: KafkaProducer,
                 handler: CommandHandler, metrics: CollectorMetrics, guard: InFlightGuard) -> None:
        self._settings, self._consumer, self._producer = settings, consumer, producer
        self._handler, self._metrics, self._guard = handler, metrics, guard
        self._consecutive_dead = 0

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self._consumer.consumer
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self._settings.collector_max_poll_records)
            for tp, records in batches.items():
                if stopping.is_set():
                    break
                await self._process_partition(tp, records, stopping)
            self._metrics.consumer_lag.set(await self._consumer.refresh_lag())

    async def _process_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], stopping: asyncio.Event
    ) -> None:
        for record in records:
            async with self._guard.lock:
                done = await self._process_and_commit(tp, record)
            if not done:
                await sleep_or_stop(stopping, self._settings.collector_retry_backoff_seconds)
                return
            if stopping.is_set():
                # Hand the rest back: uncommitted, they go to whoever owns the partition next.
                return

    async def _process_and_commit(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        """True when the record is finished and committed; False to stop this partition's batch."""
        consumer = self._consumer.consumer
        try:
            await self._process(record)
            await consumer.commit({tp: record.offset + 1})
        except LOST_PARTITION_ERRORS as exc:
            log.info("collector.partition_lost", partition=tp.partition, offset=record.offset, error=repr(exc))
            return False
        except TRANSIENT_ERRORS as exc:
            self._metrics.retries.inc()
            log.warning("collector.command_failed_will_retry", error=repr(exc), partition=tp.partition,
                        offset=record.offset)
            # If the partition was revoked meanwhile, the new owner starts from the committed offset.
            with contextlib.suppress(IllegalStateError):
                consumer.seek(tp, record.offset)
            return False
        return True

    async def _process(self, record: ConsumerRecord) -> None:
        try:
            command = decode_command(record.value)
        except InvalidCommand as exc:
            await self._dead_letter(record, str(exc))
            return
        with structlog.contextvars.bound_contextvars(command_id=command.command_id, platform=command.platform.value):
            try:
                await self._handler.handle(command)
            except TRANSIENT_ERRORS:
                raise
            except asyncpg.PostgresError as exc:
                # The database refuses this command's rows for good: retrying cannot help.
                await self._dead_letter(record, f"database refused the command: {type(exc).__name__}: {exc}")
                return
        self._consecutive_dead = 0

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        self._consecutive_dead += 1
        if self._consecutive_dead > self._settings.collector_dlq_max_consecutive:
            raise DeadLetterLimitExceeded(f"{self._consecutive_dead} poison commands in a row; stopping")
        headers = [
            ("error", error.encode()[:1000]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        await self._producer.send(self._settings.kafka_dlq_topic, record.key, record.value or b"", headers)
        self._metrics.dead_letters.inc()
        log.warning("collector.dead_lettered", error=error, partition=record.partition, offset=record.offset)
