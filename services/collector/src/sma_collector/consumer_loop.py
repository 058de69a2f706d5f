"""The consumer loop: many commands in flight, each offset committed only after its command's
transaction committed, never the other way.

- Up to `collector_max_in_flight` commands run at once (waiting on platform budgets, HTTP and
  the database concurrently). When every slot is busy the loop pauses its partitions and keeps
  polling (so the group does not think it dead) without taking more: the backlog stays in
  Kafka, where the lag shows it, instead of in memory.
- Commands finish in any order; per partition, the committed offset is the end of the
  longest run of finished commands from the start (`PartitionOffsets`), so a crash redelivers
  every unfinished command (and perhaps a few finished ones: writes are idempotent). Commits
  are flushed once per poll.
- A poison command goes to the dead-letter topic with the error and counts as finished: one
  that does not decode, or whose write the database refuses for good (a constraint, a missing
  partition). Too many in a row stop the collector: a bad deploy must not dead-letter the
  whole topic.
- A transient failure (database or broker down, a retriable Kafka error, a partition that
  maintenance has not created yet) is retried in place with capped exponential back-off; the
  partition's committed offset waits for it, and its lag shows it.
- A rebalance waits (up to `collector_revoke_grace_seconds`) for the commands of the revoked
  partitions, commits what finished, and cancels the rest: their new owner redelivers them.
- On stop, the commands in hand are finished (within the drain budget) and committed.
"""

from __future__ import annotations

import asyncio
import collections
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
MAX_BACKOFF_SECONDS = 30.0


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, (*TRANSIENT_DB_ERRORS, TransientError))


def missing_partition(exc: asyncpg.PostgresError) -> bool:
    """Postgres reports "no partition found for row" as a check violation without a constraint."""
    return isinstance(exc, asyncpg.CheckViolationError) and not getattr(exc, "constraint_name", None)


class DeadLetterLimitExceeded(RuntimeError):
    pass


class PartitionOffsets:
    """The offsets of one partition taken but not yet committed, in the order they were polled."""

    def __init__(self) -> None:
        self._pending: collections.deque[list[int | bool]] = collections.deque()  # [offset, done]
        self._index: dict[int, list[int | bool]] = {}
        self.committable: int | None = None  # next offset to commit, when it moved

    def take(self, offset: int) -> None:
        entry: list[int | bool] = [offset, False]
        self._pending.append(entry)
        self._index[offset] = entry

    def finish(self, offset: int) -> None:
        entry = self._index.pop(offset, None)
        if entry is None:
            return
        entry[1] = True
        while self._pending and self._pending[0][1]:
            self.committable = int(self._pending.popleft()[0]) + 1

    def __len__(self) -> int:
        return len(self._pending)


class InFlightGuard(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the loop finish (or hand back) the commands of revoked partitions and commit what
    finished before the partitions move; counts revokes for the logs and tests."""

    def __init__(self) -> None:
        self.epoch = 0
        self.loop: ConsumerLoop | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.epoch += 1
        log.info("collector.partitions_revoked", partitions=sorted(tp.partition for tp in revoked))
        if self.loop is not None:
            await self.loop.release(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("collector.partitions_assigned", partitions=sorted(tp.partition for tp in assigned))


class ConsumerLoop:
    def __init__(self, settings: CollectorSettings, consumer: KafkaConsumer, producer: KafkaProducer,
                 handler: CommandHandler, metrics: CollectorMetrics, guard: InFlightGuard) -> None:
        self._settings, self._consumer, self._producer = settings, consumer, producer
        self._handler, self._metrics, self._guard = handler, metrics, guard
        guard.loop = self
        self._consecutive_dead = 0
        self._offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._tasks: dict[asyncio.Task[None], TopicPartition] = {}
        self._failure: BaseException | None = None
        self._stopping = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stopping: asyncio.Event) -> None:
        self._stopping = stopping
        consumer = self._consumer.consumer
        limit = self._settings.collector_max_in_flight
        try:
            while not stopping.is_set() and self._failure is None:
                free = limit - len(self._tasks)
                self._pause(free <= 0)
                batches = await consumer.getmany(timeout_ms=200, max_records=max(1, free))
                for tp, records in batches.items():
                    for record in records:
                        self._start(tp, record)
                await self._commit()
                self._metrics.in_flight.set(len(self._tasks))
                self._metrics.consumer_lag.set(await self._consumer.refresh_lag())
        finally:
            # Finish what is in hand (the drain budget bounds this), then commit it.
            if self._tasks:
                await asyncio.wait(list(self._tasks))
            with contextlib.suppress(*LOST_PARTITION_ERRORS, KafkaError):
                await self._commit()
            self._metrics.in_flight.set(0)
        if self._failure is not None:
            raise self._failure

    def _pause(self, full: bool) -> None:
        """Stop fetching while every slot is busy; getmany keeps the group membership alive."""
        consumer = self._consumer.consumer
        if full:
            consumer.pause(*consumer.assignment())
        elif paused := consumer.paused():
            consumer.resume(*paused)

    def _start(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        self._offsets.setdefault(tp, PartitionOffsets()).take(record.offset)
        task = asyncio.create_task(self._run_one(tp, record), name=f"command-{tp.partition}-{record.offset}")
        self._tasks[task] = tp
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and (exc := task.exception()) is not None and self._failure is None:
            self._failure = exc

    async def _run_one(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        """Handle one command until it is done, retrying transient failures in place."""
        attempt = 0
        while True:
            try:
                await self._process(record)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise  # a bug or a broker refusing for good: the service stops and restarts
                attempt += 1
                self._metrics.retries.inc()
                delay = min(MAX_BACKOFF_SECONDS, self._settings.collector_retry_backoff_seconds * 2 ** (attempt - 1))
                log.warning("collector.command_failed_will_retry", error=repr(exc), partition=tp.partition,
                            offset=record.offset, attempt=attempt, delay_s=delay)
                if await sleep_or_stop(self._stopping, delay):
                    return  # stopping: left uncommitted, redelivered to whoever owns it next
        offsets = self._offsets.get(tp)
        if offsets is not None:
            offsets.finish(record.offset)

    async def _commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit every partition's finished prefix (of `partitions`, default all)."""
        due = {
            tp: offsets.committable for tp, offsets in self._offsets.items()
            if offsets.committable is not None and (partitions is None or tp in partitions)
        }
        if not due:
            return
        try:
            await self._consumer.consumer.commit(due)
        except LOST_PARTITION_ERRORS as exc:
            log.info("collector.commit_lost_partitions", partitions=sorted(tp.partition for tp in due), error=repr(exc))
            return
        for tp, offset in due.items():
            offsets = self._offsets.get(tp)
            if offsets is not None and offsets.committable == offset:
                offsets.committable = None

    async def release(self, revoked: set[TopicPartition]) -> None:
        """Before revoked partitions move: let their commands finish (bounded), commit, forget."""
        tasks = [task for task, tp in self._tasks.items() if tp in revoked]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._settings.collector_revoke_grace_seconds)
            for task in late:
                task.cancel()
            if late:
                log.info("collector.handed_back_on_revoke", commands=len(late))
                await asyncio.wait(late)
        with contextlib.suppress(KafkaError):
            await self._commit(revoked)
        for tp in revoked:
            self._offsets.pop(tp, None)

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
