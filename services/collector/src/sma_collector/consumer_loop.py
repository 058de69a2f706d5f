"""The consumer loop: poll, handle each command, then commit its offset; never the other way.

- Offsets are committed only after the command's transaction committed (at-least-once).
- A poison command goes to the dead-letter topic with the error and is committed: one that
  does not decode, or whose write the database refuses for good (a constraint, a missing
  partition). Too many in a row stop the collector: a bad deploy must not dead-letter the
  whole topic.
- A transient failure (database or broker down, a retriable Kafka error, a partition that
  maintenance has not created yet) seeks back to the failed command and backs off; nothing
  after it on that partition is committed meanwhile, and its lag shows it.
- A rebalance waits for the command in hand (the revoke listener takes the same lock); after a
  revoke, the rest of the polled batch is dropped, for every partition, so nothing is handled
  by two owners at once: the new owners redeliver it from the committed offsets.
- On stop, the command in hand is finished and committed before the loop returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

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

LOST_PARTITION_ERRORS = (IllegalStateError, CommitFailedError)
# A write refused for a missing partition is transient only this close to now (maintenance
# fell behind); a command dispatched long ago that no partition will ever take is poison.
RECENT = timedelta(days=2)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, (*TRANSIENT_DB_ERRORS, TransientError))


def missing_partition(exc: asyncpg.PostgresError) -> bool:
    """Postgres reports "no partition found for row" as a check violation without a constraint."""
    return isinstance(exc, asyncpg.CheckViolationError) and not getattr(exc, "constraint_name", None)


class DeadLetterLimitExceeded(RuntimeError):
    pass


class InFlightGuard(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the command in hand is committed (or handed back), and counts
    revokes so the loop can tell that what it polled before one is no longer its own."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.epoch = 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            self.epoch += 1
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
            epoch = self._guard.epoch
            for tp, records in batches.items():
                if stopping.is_set() or self._guard.epoch != epoch:
                    break
                await self._process_partition(tp, records, stopping, epoch)
            self._metrics.consumer_lag.set(await self._consumer.refresh_lag())

    async def _process_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], stopping: asyncio.Event, epoch: int
    ) -> None:
        for record in records:
            async with self._guard.lock:
                if self._guard.epoch != epoch:
                    return  # revoked since the poll: the new owner redelivers the rest
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
        except Exception as exc:
            if not is_transient(exc):
                raise  # a bug or a broker refusing for good: the service stops and restarts
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
            except asyncpg.PostgresError as exc:
                if is_transient(exc):
                    raise
                if missing_partition(exc) and datetime.now(UTC) - command.scheduled_for < RECENT:
                    raise TransientError(f"no partition yet for {command.scheduled_for:%Y-%m-%d}") from exc
                # The database refuses this command's rows for good: retrying cannot help.
                await self._dead_letter(record, f"database refused the command: {type(exc).__name__}: {exc}")
                return
        self._consecutive_dead = 0

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        if self._consecutive_dead >= self._settings.collector_dlq_max_consecutive:
            raise DeadLetterLimitExceeded(f"{self._consecutive_dead} poison commands in a row; stopping")
        headers = [
            ("error", error.encode()[:1000]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        topic = self._settings.kafka_dlq_topic
        try:
            await self._producer.send(topic, record.key, record.value or b"", headers)
        except KafkaError as exc:
            if exc.retriable:
                raise
            # The broker refuses the original bytes (too large, say): keep the record of the
            # failure without them, rather than blocking the partition on it forever.
            await self._producer.send(topic, record.key, b"", [*headers, ("payload_dropped", repr(exc).encode())])
        self._consecutive_dead += 1
        self._metrics.dead_letters.inc()
        log.warning("collector.dead_lettered", error=error, partition=record.partition, offset=record.offset)
