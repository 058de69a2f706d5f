"""The whole platform on one machine: embedded servers, the simulator and the four services.

Used by `make run` (foreground) and `make up` (the same, detached). Servers named by
`SMA_DATABASE_URL`, `SMA_REDIS_URL` or `SMA_KAFKA_BOOTSTRAP_SERVERS` are used instead of
embedded ones, and every other `SMA_*` variable in the environment reaches the services and
overrides the stack's defaults. A service that exits is restarted, as Kubernetes would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from rich.console import Console

from sma_common.db import migrations
from sma_common.service import sleep_or_stop
from sma_devstack.kafka import EmbeddedKafka
from sma_devstack.ports import port_is_free
from sma_devstack.postgres import EmbeddedPostgres
from sma_devstack.process import ManagedProcess, process_identity
from sma_devstack.redis import EmbeddedRedis

DEFAULT_PORTS = {
    "gateway": 8080, "scheduler": 8081, "collector": 8082, "maintenance": 8083, "simulator": 8090,
    "postgres": 55432, "redis": 56379, "kafka": 59092,
}
# Start order; stop order is the reverse. The simulator comes first: the gateway resolves
# handles through it and the collector fetches from it.
SERVICES = {
    "simulator": "sma_simulator", "maintenance": "sma_maintenance", "scheduler": "sma_scheduler",
    "collector": "sma_collector", "gateway": "sma_gateway",
}
SIMULATOR_TWITCH_CLIENT = ("sma-demo-client", "sma-demo-secret")
SIMULATOR_YOUTUBE_API_KEY = "sma-demo-youtube-key"
SIMULATOR_X_BEARER_TOKEN = "sma-demo-x-token"  # noqa: S105 (the simulator's public demo token)
SIMULATOR_REDDIT_CLIENT = ("sma-demo-reddit", "sma-demo-reddit-secret")
SIMULATOR_REDDIT_USER_AGENT = "local:sma-devstack:0.1 (by /u/sma_demo)"


@dataclass
class StackPaths:
    root: Path

    @property
    def env_file(self) -> Path:
        return self.root / "stack.env"

    @property
    def pid_file(self) -> Path:
        return self.root / "stack.pid"

    @property
    def children_file(self) -> Path:
        return self.root / "children.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def service_port(name: str) -> int:
    return int(os.environ.get(f"SMA_{name.upper()}_PORT", DEFAULT_PORTS[name]))


@dataclass
class Stack:
    paths: StackPaths
    console: Console
    servers: list[EmbeddedPostgres | EmbeddedRedis | EmbeddedKafka] = field(default_factory=list)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    # -- servers -------------------------------------------------------------------------------
    def check_ports(self) -> None:
        wanted = [n for n in SERVICES] + [
            n for n, var in (("postgres", "SMA_DATABASE_URL"), ("redis", "SMA_REDIS_URL"),
                             ("kafka", "SMA_KAFKA_BOOTSTRAP_SERVERS")) if not os.environ.get(var)
        ]
        busy = [f"{n} ({service_port(n)})" for n in wanted if not port_is_free(service_port(n))]
        if busy:
            raise RuntimeError(
                f"port(s) already in use: {', '.join(busy)}. Is the stack already running? Try `make down`, "
                "or move a port with SMA_<NAME>_PORT (e.g. SMA_GATEWAY_PORT=9080)."
            )

    async def start_servers(self) -> None:
        database_url = os.environ.get("SMA_DATABASE_URL")
        redis_url = os.environ.get("SMA_REDIS_URL")
        kafka = os.environ.get("SMA_KAFKA_BOOTSTRAP_SERVERS")
        pg = rd = kf = None
        if not database_url:
            pg = EmbeddedPostgres(service_port("postgres"), self.paths.root / "postgres")
        if not redis_url:
            rd = EmbeddedRedis(service_port("redis"), self.paths.root / "redis")
            redis_url = rd.url
        if not kafka:
            kf = EmbeddedKafka(service_port("kafka"), self.paths.root / "kafka")
            kafka = kf.bootstrap_servers
        self.servers = [s for s in (pg, rd, kf) if s is not None]
        with self.console.status("starting embedded servers"):
            await asyncio.gather(*(s.start() for s in self.servers))
            if pg is not None:
                database_url = await pg.create_database("sma")
            assert database_url is not None
            await asyncio.to_thread(migrations.upgrade, database_url)
        self._record_children()
        self.urls.update(database=database_url, redis=redis_url, kafka=kafka)

    # -- services ------------------------------------------------------------------------------
    def service_env(self) -> dict[str, str]:
        sim = f"http://127.0.0.1:{service_port('simulator')}"
        defaults = {
            "SMA_DATABASE_URL": self.urls["database"],
            "SMA_REDIS_URL": self.urls["redis"],
            "SMA_KAFKA_BOOTSTRAP_SERVERS": self.urls["kafka"],
            "SMA_HTTP_HOST": "127.0.0.1",
            "SMA_LOG_FORMAT": "json",
            "SMA_TWITCH_API_BASE": f"{sim}/helix",
            "SMA_TWITCH_AUTH_BASE": sim,
            "SMA_TWITCH_CLIENT_ID": SIMULATOR_TWITCH_CLIENT[0],
            "SMA_TWITCH_CLIENT_SECRET": SIMULATOR_TWITCH_CLIENT[1],
            "SMA_YOUTUBE_API_BASE": f"{sim}/youtube/v3",
            "SMA_YOUTUBE_API_KEY": SIMULATOR_YOUTUBE_API_KEY,
            "SMA_X_API_BASE": f"{sim}/2",
            "SMA_X_BEARER_TOKEN": SIMULATOR_X_BEARER_TOKEN,
            "SMA_BLUESKY_API_BASE": f"{sim}/xrpc",
            "SMA_MASTODON_API_BASE": f"{sim}/mastodon/{{instance}}",
            "SMA_REDDIT_API_BASE": f"{sim}/reddit",
            "SMA_REDDIT_AUTH_BASE": f"{sim}/reddit-auth",
            "SMA_REDDIT_CLIENT_ID": SIMULATOR_REDDIT_CLIENT[0],
            "SMA_REDDIT_CLIENT_SECRET": SIMULATOR_REDDIT_CLIENT[1],
            "SMA_REDDIT_USER_AGENT": SIMULATOR_REDDIT_USER_AGENT,
        }
        # What the operator exported wins over the stack's defaults.
        exported = {k: v for k, v in os.environ.items() if k.startswith("SMA_")}
        return {**os.environ, **defaults, **exported}

    async def start_services(self) -> None:
        self.env = self.service_env()
        for name, module in SERVICES.items():
            env = {**self.env, "SMA_HTTP_PORT": str(service_port(name)), "SMA_INSTANCE": f"{name}-local"}
            process = ManagedProcess(name, [sys.executable, "-m", module], self.paths.logs / f"{name}.log", env=env)
            process.start()
            self.processes[name] = process
            self.urls[name] = f"http://127.0.0.1:{service_port(name)}"
        self._record_children()
        with self.console.status("waiting for every service to be ready"):
            await asyncio.gather(*(self._wait_ready(name) for name in SERVICES))

    async def _wait_ready(self, name: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.urls[name]}/health/ready"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while True:
                process = self.processes[name]
                if not process.running():
                    raise RuntimeError(f"{name} exited during start-up; its log ends with:\n{process.log_tail()}")
                try:
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready after {timeout:g}s; its log ends with:\n{process.log_tail()}")
                await asyncio.sleep(0.2)

    async def supervise(self, stopping: asyncio.Event) -> None:
        """Restart a service that exits, like a pod restart, until the stack stops."""
        while not stopping.is_set():
            for name, process in self.processes.items():
                if not process.running() and not stopping.is_set():
                    code = process.proc.returncode if process.proc else None
                    self.console.print(f"[yellow]{name} exited ({code}); restarting. Log: {process.log_path}")
                    process.start()
                    self._record_children()
            await sleep_or_stop(stopping, 2.0)

    async def stop(self) -> None:
        for name in reversed(list(self.processes)):
            code = await self.processes[name].stop(timeout=30)
            self.console.print(f"stopped {name} (exit {code})")
        await asyncio.gather(*(s.stop() for s in reversed(self.servers)), return_exceptions=True)
        if self.servers:
            self.console.print("stopped embedded servers")
        for path in (self.paths.env_file, self.paths.children_file):
            path.unlink(missing_ok=True)

    def _record_children(self) -> None:
        """Pids and start times of every child, so `down` can clean up after a killed supervisor
        without ever signalling a process that merely reused a pid."""
        pids = [s.pid for s in self.servers] + [p.pid for p in self.processes.values()]
        children = [{"pid": pid, "identity": process_identity(pid)} for pid in pids if pid is not None]
        self.paths.children_file.write_text(json.dumps(children))
