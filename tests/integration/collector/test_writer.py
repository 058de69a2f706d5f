"""Group commit against a real Postgres: concurrent commands share transactions, every row is
written once, and a command the database refuses fails alone."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from sma_collector.repository import CommandRecord, ExecutionRow, Recorded, record_commands
from sma_collector.writer import GroupWriter
from sma_common.errors import TransientError
from tests.fixtures.data import insert_account, insert_job


async def record_for(db: asyncpg.Pool, n: int, scheduled_for: datetime | None = None) -> CommandRecord:
    account_id = await insert_account(db, "bluesky", f"did:plc:writer{n}", f"writer{n}.bsky.social")
    job_id = await insert_job(db, account_id, "bluesky")
    now = datetime.now(UTC)
    row = ExecutionRow(job_id, account_id, "success", None, (("followers", float(n)), ("posts", 2.0 * n)))
    return CommandRecord("bluesky", f"cmd-{n}", scheduled_for or now, now, now, now, 1, "test", (row,))


class CountingWriter:
    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db
        self.calls: list[int] = []

    async def __call__(self, records: Sequence[CommandRecord]) -> list[Recorded]:
        self.calls.append(len(records))
        return await record_commands(self.db, records)


async def test_concurrent_writes_share_transactions_and_each_gets_its_own_result(db: asyncpg.Pool) -> None:
    records = [await record_for(db, n) for n in range(1, 41)]
    counting = CountingWriter(db)
    writer = GroupWriter(counting, max_batch=16)
    results = await asyncio.gather(*(writer.write(r) for r in records))

    assert [r.points for r in results] == [2] * 40
    assert [set(r.accounts_with_points) for r in results] == [{r.rows[0].account_id} for r in records]
    assert sum(counting.calls) == 40 and max(counting.calls) <= 16
    assert len(counting.calls) < 40  # grouped, not one transaction per command
    assert await db.fetchval("SELECT count(*) FROM job_executions") == 40
    assert await db.fetchval("SELECT count(*) FROM metric_points") == 80
    statuses = await db.fetch("SELECT last_status, consecutive_failures FROM monitoring_jobs")
    assert {(r["last_status"], r["consecutive_failures"]) for r in statuses} == {("success", 0)}


async def test_a_command_written_again_records_nothing_twice(db: asyncpg.Pool) -> None:
    record = await record_for(db, 1)
    writer = GroupWriter(lambda batch: record_commands(db, batch), max_batch=8)
    first, again, same_group = await asyncio.gather(writer.write(record), writer.write(record), writer.write(record))
    assert sorted(r.executions for r in (first, again, same_group)) == [0, 0, 1]
    assert await writer.write(record) == Recorded(0, 0, frozenset())
    assert await db.fetchval("SELECT count(*) FROM job_executions") == 1
    assert await db.fetchval("SELECT count(*) FROM metric_points") == 2


async def test_a_command_the_database_refuses_fails_alone(db: asyncpg.Pool) -> None:
    good = [await record_for(db, n) for n in range(1, 6)]
    # Dispatched "in 2020": no job_executions partition takes it.
    refused = await record_for(db, 99, scheduled_for=datetime.now(UTC) - timedelta(days=2500))
    writer = GroupWriter(lambda batch: record_commands(db, batch), max_batch=16)
    results = await asyncio.gather(*(writer.write(r) for r in [*good[:2], refused, *good[2:]]),
                                   return_exceptions=True)
    assert isinstance(results[2], asyncpg.CheckViolationError)
    assert [r.executions for r in results if isinstance(r, Recorded)] == [1] * 5
    assert await db.fetchval("SELECT count(*) FROM job_executions") == 5


async def test_a_cancelled_group_write_fails_the_others_transiently(db: asyncpg.Pool) -> None:
    records = [await record_for(db, n) for n in range(1, 4)]
    first_done, groups = asyncio.Event(), []

    async def write_many(batch: Sequence[CommandRecord]) -> list[Recorded]:
        groups.append(len(batch))
        if len(groups) == 1:
            await first_done.wait()
            return await record_commands(db, batch)
        await asyncio.Event().wait()  # the second group's write hangs until cancelled
        raise AssertionError("unreachable")

    writer = GroupWriter(write_many, max_batch=8)
    first = asyncio.create_task(writer.write(records[0]))
    await asyncio.sleep(0.01)  # `first` holds the lock; the next two queue behind it
    second = asyncio.create_task(writer.write(records[1]))
    third = asyncio.create_task(writer.write(records[2]))
    await asyncio.sleep(0.01)
    first_done.set()
    assert (await first).executions == 1
    await asyncio.sleep(0.01)  # `second` now writes the group of two and hangs
    assert groups == [1, 2]
    second.cancel()
    with pytest.raises(TransientError):
        await third  # its write was in the cancelled group: retry it, it was rolled back
    with pytest.raises(asyncio.CancelledError):
        await second
