"""A server subprocess we own: started in its own session, stopped by signal, then killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from sma_devstack.ports import wait_for_port


def process_identity(pid: int) -> str | None:
    """Something that tells this process from a later one that reuses its pid, or None if no
    such process is running. On Linux the start time in clock ticks since boot (immune to clock
    changes); elsewhere the name and creation second."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # A zombie has exited: it only waits for a parent to reap it.
        return None if fields[0] == "Z" else "start-ticks:" + fields[19]
    except (OSError, IndexError):
        pass
    try:
        proc = psutil.Process(pid)
        return f"{proc.name()}:{int(proc.create_time())}"
    except psutil.Error:
        return None


def kill_group_if_same(pid: int, identity: str | None, sig: int = signal.SIGKILL) -> bool:
    """Signal `pid`'s process group only if `pid` is still the process recorded as `identity`."""
    if identity is None or process_identity(pid) != identity:
        return False
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], log_path: Path, *, env: dict[str, str] | None = None,
                 stop_signal: int = signal.SIGTERM, popen_kwargs: dict[str, Any] | None = None) -> None:
        self.name, self.argv, self.log_path = name, argv, log_path
        self.env, self.stop_signal = env, stop_signal
        self.popen_kwargs = popen_kwargs or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True, **self.popen_kwargs,
            )

    async def start_listening(self, port: int, timeout: float = 15.0) -> None:
        """Start, then wait until the server accepts connections on `port` (or fail with its log)."""
        self.start()
        try:
            await wait_for_port(port, timeout=timeout)
        except TimeoutError as exc:
            raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}") from exc

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(self.stop_signal)
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout)
        except TimeoutError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return await asyncio.to_thread(self.proc.wait)


class EmbeddedServer:
    """A server binary we run on a loopback port: start waits until it listens, stop signals it."""

    def __init__(self, port: int, workdir: Path, process: ManagedProcess) -> None:
        self.port = port
        self.workdir = workdir
        self._process = process

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._process.start_listening(self.port)

    async def stop(self) -> None:
        await self._process.stop()
