"""Group commit: the writes of commands finished at about the same time share one transaction.

With many commands in flight, a transaction per command makes the commit round trip (and its
fsync) the limit. `GroupWriter.write` queues the command's record; whoever holds the writer's
lock writes everything queued (up to `max_batch`) in one transaction, and the others find their
result ready when they get the lock. A write that fails for the group is retried command by
command, so one command the database refuses for good fails alone, not its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from sma_collector.repository import CommandRecord, Recorded
from sma_common.errors import TransientError

WriteMany = Callable[[Sequence[CommandRecord]], Awaitable[list[Recorded]]]


class GroupWriter:
    def __init__(self, write_many: WriteMany, *, max_batch: int) -> None:
        self._write_many = write_many
        self._max_batch = max_batch
        self._queue: list[tuple[CommandRecord, asyncio.Future[Recorded]]] = []
        self._lock = asyncio.Lock()

    async def write(self, record: CommandRecord) -> Recorded:
        """Write the record (with whatever else is queued); raises what its own write raised."""
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.append((record, future))
        while not future.done():
            async with self._lock:
                if future.done():
                    break
                group, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._flush(group)
        return future.result()

    async def _flush(self, group: list[tuple[CommandRecord, asyncio.Future[Recorded]]]) -> None:
        try:
            try:
                results = await self._write_many([record for record, _ in group])
            except Exception as exc:
                if len(group) == 1:
                    group[0][1].set_exception(exc)
                    return
                for record, future in group:
                    try:
                        future.set_result((await self._write_many([record]))[0])
                    except Exception as single:
                        future.set_exception(single)
                return
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)
        finally:
            # Cancelled mid-write: the others in the group must not wait forever; the
            # transaction rolled back, so each retries its own write.
            for _, future in group:
                if not future.done():
                    future.set_exception(TransientError("the group write was interrupted"))
