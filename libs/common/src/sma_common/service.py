"""The one service lifecycle: ordered resources, long-running loops, readiness, graceful drain.

A service is *resources* (things with `start()`/`stop()`: the asyncpg pool, the Redis client,
the Kafka producer and consumer) plus *loops* (coroutines that run until told to stop: the
scheduler tick, the consumer loop, the heartbeat). `Service.run()`:

1. starts the HTTP server first, so `/health/live` answers and `/health/ready` says
   `starting` (503) while resources connect;
2. starts resources in order; they stop in reverse order, and only those that started;
3. flips readiness to ready and runs every loop in its own task;
4. on SIGTERM/SIGINT (or `request_stop()`) flips readiness to draining (503, so the pod drops
   out of load balancing), sets the `stopping` event every loop watches, and waits for loops
   to finish the unit of work in hand;
5. keeps serving HTTP until `shutdown_delay` has passed since the stop request (the time
   Kubernetes needs to take the pod out of its endpoints), then stops accepting connections
   and lets in-flight requests finish;
6. closes resources, last started first, and returns the exit code.

Steps 4-6 share one budget, `drain_timeout`, counted from the stop request: loops still
running when it is spent are cancelled, in-flight HTTP requests get at most a quarter of it,
and each resource gets what is left (at least 0.5 s, so a spent budget still closes cleanly).

If any loop raises, or returns before it was asked to stop, the whole service stops and
`run()` returns 1, so Kubernetes restarts the pod: no half-alive processes. A resource that
fails to start also fails the service.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Literal, Protocol

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry

from sma_common.health import Check, run_checks
from sma_common.http_server import FastPath, add_ops_routes, front_handler, request_metrics_middleware
from sma_common.metrics import HttpMetrics, create_registry
from sma_common.settings import HttpServerSettings

log = structlog.get_logger(__name__)

State = Literal["starting", "ready", "draining", "stopped"]
LoopFn = Callable[[asyncio.Event], Awaitable[None]]
DetailsFn = Callable[[], dict[str, object]]


class Resource(Protocol):
    """Something a service holds open for its whole life."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Loop:
    name: str
    fn: LoopFn


class Service:
    """Lifecycle owner for one service process. See the module docstring for the semantics."""

    def __init__(
        self,
        name: str,
        *,
        version: str,
        instance: str,
        registry: CollectorRegistry,
        http_host: str = "0.0.0.0",
        http_port: int = 8080,
        drain_timeout: float = 20.0,
        shutdown_delay: float = 0.0,
        middlewares: Sequence[Middleware] = (),
        client_max_size: int = 1024**2,
        metrics_namespace: str = "sma",
        fast_path: FastPath | None = None,
    ) -> None:
        """Every request first passes the request-metrics step every service gets, in front of
        routing (`front_handler`), which offers it to `fast_path`; `middlewares` run after routing.
        Routes are added to `self.app` by the composition root before `run()`."""
        self.name = name
        self.version = version
        self.instance = instance
        self.registry = registry
        self.drain_timeout = drain_timeout
        self.shutdown_delay = min(shutdown_delay, drain_timeout)
        self._stop_requested_at: float | None = None
        self._runner: web.AppRunner | None = None
        self.state: State = "starting"
        self.started_monotonic = time.monotonic()
        self._host, self._port = http_host, http_port
        self._resources: list[Resource] = []
        self._loops: list[_Loop] = []
        self._checks: list[Check] = []
        self._details: dict[str, DetailsFn] = {}
        self._stopping: asyncio.Event | None = None
        self._bound_port: int | None = None
        self._first_step = request_metrics_middleware(HttpMetrics(registry, metrics_namespace), fast_path)
        self.app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
        add_ops_routes(self.app, self)

    @classmethod
    def from_settings(
        cls,
        name: str,
        version: str,
        settings: HttpServerSettings,
        *,
        middlewares: Sequence[Middleware] = (),
        client_max_size: int = 1024**2,
        metrics_namespace: str = "sma",
        registry: CollectorRegistry | None = None,
        fast_path: FastPath | None = None,
    ) -> Service:
        """A service with its HTTP server and drain from settings, and a fresh metrics registry
        unless the composition root made one first (to declare metrics its middlewares use)."""
        return cls(
            name, version=version, instance=settings.instance, registry=registry or create_registry(name, version),
            http_host=settings.http_host, http_port=settings.http_port, drain_timeout=settings.drain_timeout_seconds,
            shutdown_delay=settings.shutdown_delay_seconds, middlewares=middlewares, client_max_size=client_max_size,
            metrics_namespace=metrics_namespace, fast_path=fast_path,
        )

    # -- composition -------------------------------------------------------------------------
    def add_resource(self, resource: Resource) -> None:
        """A resource that is also a Prometheus collector (the database pool) is registered in
        the service's registry, so every service exports it without wiring of its own."""
        self._resources.append(resource)
        if callable(getattr(resource, "collect", None)):
            self.registry.register(resource)  # type: ignore[arg-type]

    def add_loop(self, name: str, fn: LoopFn) -> None:
        self._loops.append(_Loop(name, fn))

    def add_check(self, check: Check) -> None:
        self._checks.append(check)

    def add_details(self, name: str, fn: DetailsFn) -> None:
        """Extra state for `/health/detailed` (pool size, lag, last tick). Never secrets."""
        self._details[name] = fn

    # -- state for the health endpoints -------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound HTTP port (useful when configured as 0)."""
        if self._bound_port is None:
            raise RuntimeError("the HTTP server is not started")
        return self._bound_port

    @property
    def stopping(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    async def readiness(self) -> tuple[str, dict[str, object]]:
        if self.state != "ready":
            checks: dict[str, object] = {"lifecycle": {"status": "fail", "latency_ms": 0.0, "detail": self.state}}
            return "fail", checks
        status, results = await run_checks(self._checks)
        return status, {name: r.as_json() for name, r in results.items()}

    def details(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, fn in self._details.items():
            try:
                out[name] = fn()
            except Exception as exc:  # a broken detail provider must not break the endpoint
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return out

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("service.stop_requested", state=self.state)
            self._stop_requested_at = time.monotonic()
            self.state = "draining" if self.state == "ready" else self.state
            self.stopping.set()

    def _remaining(self) -> float:
        """What is left of the drain budget (the whole budget before a stop request)."""
        if self._stop_requested_at is None:
            return self.drain_timeout
        return max(0.0, self._stop_requested_at + self.drain_timeout - time.monotonic())

    # -- running ------------------------------------------------------------------------------
    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Run until stopped. Returns the process exit code (0 clean, 1 failure)."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=max(1.0, self.drain_timeout / 4))
        await self._runner.setup()
        front_handler(self._runner, self._first_step)
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self._bound_port = self._runner.addresses[0][1]
        log.info("service.http_listening", host=self._host, port=self._bound_port)
        try:
            return await self._run_with_resources()
        finally:
            self.state = "stopped"
            await self._close_http()
            if install_signal_handlers:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            log.info("service.stopped")

    async def _close_http(self) -> None:
        """Serve until the shutdown delay has passed, then stop accepting and finish in-flight
        requests. Runs before resources close, so no request meets a closed pool."""
        if self._runner is None:
            return
        if self._stop_requested_at is not None:
            waited = time.monotonic() - self._stop_requested_at
            await asyncio.sleep(max(0.0, min(self.shutdown_delay - waited, self._remaining())))
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _run_with_resources(self) -> int:
        async with AsyncExitStack() as stack:
            for resource in self._resources:
                if self.stopping.is_set():
                    return 0
                try:
                    if not await self._start_resource(resource):
                        return 0
                except Exception:
                    log.exception("service.resource_failed", resource=resource.name)
                    return 1
                stack.push_async_callback(self._stop_resource, resource)
            # Exit callbacks run last-in first-out: the HTTP server closes before any resource.
            stack.push_async_callback(self._close_http)
            if self.stopping.is_set():
                return 0
            self.state = "ready"
            log.info("service.ready", startup_seconds=round(time.monotonic() - self.started_monotonic, 3))
            return await self._run_loops()

    async def _start_resource(self, resource: Resource) -> bool:
        # Starting races the stop signal so SIGTERM during a long connect does not hang.
        start = asyncio.create_task(resource.start(), name=f"start:{resource.name}")
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not start.done():
            start.cancel()
            await asyncio.gather(start, return_exceptions=True)
            log.info("service.stopped_while_starting", resource=resource.name)
            return False
        start.result()
        log.info("service.resource_started", resource=resource.name)
        return True

    async def _stop_resource(self, resource: Resource) -> None:
        try:
            await asyncio.wait_for(resource.stop(), timeout=max(self._remaining(), 0.5))
        except Exception:
            log.exception("service.resource_stop_failed", resource=resource.name)

    async def _guarded(self, loop: _Loop) -> None:
        await loop.fn(self.stopping)
        if not self.stopping.is_set():
            raise RuntimeError(f"loop {loop.name} returned before the service was asked to stop")

    async def _run_loops(self) -> int:
        tasks = {asyncio.create_task(self._guarded(lp), name=lp.name): lp for lp in self._loops}
        stop_wait: asyncio.Task[object] = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait({*tasks, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        exit_code = 0
        for task in tasks.keys() & done:
            exc = None if task.cancelled() else task.exception()
            if exc is not None:
                exit_code = 1
                log.error("service.loop_failed", loop=tasks[task].name, error=repr(exc), exc_info=exc)
        self.request_stop()
        stop_wait.cancel()
        pending = {t for t in tasks if not t.done()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=self._remaining())
            for task in still:
                log.warning("service.loop_cancelled_after_drain_timeout", loop=tasks[task].name)
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None and exit_code == 0:
                exit_code = 1
                log.error("service.loop_failed_while_draining", loop=tasks[task].name, error=repr(task.exception()))
        return exit_code


async def sleep_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until stopping is set; True when the service is stopping."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=max(seconds, 0))
    except TimeoutError:
        return False
    return True
