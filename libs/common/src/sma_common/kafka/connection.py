"""Starting an aiokafka client with bounded retries, shared by the producer and the consumer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError

from sma_common.retry import RetryPolicy

CONNECT_ERRORS = (KafkaConnectionError, KafkaError, OSError)


class _Client(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=_Client)


async def start_client(make: Callable[[], C], *, timeout: float, what: str) -> C:
    """A started client from `make()`, retried with back-off for up to `timeout` seconds; a client
    whose start failed is stopped before the next attempt (it may hold sockets and tasks)."""

    async def attempt() -> C:
        client = make()
        try:
            await client.start()
        except BaseException:
            await client.stop()
            raise
        return client

    policy = RetryPolicy(on=CONNECT_ERRORS, max_attempts=1000, max_elapsed=timeout, base_delay=0.2, max_delay=2.0)
    return await policy.call(attempt, what=what)
