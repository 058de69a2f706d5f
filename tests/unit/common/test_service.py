import asyncio

import aiohttp

from sma_common.health import Check, CheckFailed
from sma_common.metrics import create_registry
from sma_common.service import Service
from tests.fixtures.services import running


class Recorder:
    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError("cannot connect")
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def make_service(**kwargs: object) -> Service:
    return Service("test", version="0", instance="i", registry=create_registry("test", "0"), http_host="127.0.0.1",
                   http_port=0, **kwargs)


async def test_resources_start_in_order_and_stop_in_reverse_after_loops_drain() -> None:
    log: list[str] = []
    service = make_service(drain_timeout=5)
    service.add_resource(Recorder("pool", log))
    service.add_resource(Recorder("consumer", log))

    async def worker(stopping: asyncio.Event) -> None:
        await stopping.wait()
        log.append("loop finished its unit of work")

    service.add_loop("worker", worker)
    async with running(service):
        assert service.state == "ready"
    assert log == ["start pool", "start consumer", "loop finished its unit of work", "stop consumer", "stop pool"]


async def test_a_failing_loop_stops_the_service_with_exit_code_1() -> None:
    log: list[str] = []
    service = make_service()
    service.add_resource(Recorder("pool", log))

    async def broken(_: asyncio.Event) -> None:
        raise ValueError("bug")

    async def healthy(stopping: asyncio.Event) -> None:
        await stopping.wait()

    service.add_loop("broken", broken)
    service.add_loop("healthy", healthy)
    assert await asyncio.wait_for(service.run(install_signal_handlers=False), 10) == 1
    assert log == ["start pool", "stop pool"]


async def test_a_resource_that_fails_to_start_fails_the_service_and_earlier_ones_close() -> None:
    log: list[str] = []
    service = make_service()
    service.add_resource(Recorder("pool", log))
    service.add_resource(Recorder("broker", log, fail=True))
    assert await asyncio.wait_for(service.run(install_signal_handlers=False), 10) == 1
    assert log == ["start pool", "stop pool"]


async def test_a_loop_that_ignores_stop_is_cancelled_after_the_drain_timeout() -> None:
    service = make_service(drain_timeout=0.2)

    async def stubborn(_: asyncio.Event) -> None:
        await asyncio.sleep(3600)

    service.add_loop("stubborn", stubborn)
    task = asyncio.create_task(service.run(install_signal_handlers=False))
    while service.state != "ready":
        await asyncio.sleep(0.01)
    service.request_stop()
    assert await asyncio.wait_for(task, 5) == 0


async def test_readiness_json_follows_check_severity() -> None:
    service = make_service()

    async def ok() -> str | None:
        return None

    async def broken() -> str | None:
        raise CheckFailed("connection refused")

    service.add_check(Check("database", ok))
    service.add_check(Check("redis", broken, severity="degraded"))
    service.add_check(Check("scheduler", broken, severity="info"))

    async def idle(stopping: asyncio.Event) -> None:
        await stopping.wait()

    service.add_loop("idle", idle)
    async with running(service) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/health/ready") as resp:
            assert resp.status == 200
            body = await resp.json()
        async with http.get(f"{url}/readyz") as resp:
            assert await resp.json() == body | {"checks": (await resp.json())["checks"]}
        async with http.get(f"{url}/health/live") as resp:
            assert resp.status == 200
        async with http.get(f"{url}/health/detailed") as resp:
            detailed = await resp.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {"status": "degraded", "latency_ms": body["checks"]["redis"]["latency_ms"],
                                       "detail": "connection refused"}
    assert body["checks"]["scheduler"]["status"] == "fail"
    assert detailed["service"] == "test" and detailed["state"] == "ready" and detailed["uptime_seconds"] >= 0


async def test_a_failing_required_check_makes_ready_503() -> None:
    service = make_service()

    async def broken() -> str | None:
        raise CheckFailed("down")

    service.add_check(Check("database", broken))

    async def idle(stopping: asyncio.Event) -> None:
        await stopping.wait()

    service.add_loop("idle", idle)
    async with running(service, wait_ready=False) as url, aiohttp.ClientSession() as http:
        while service.state != "ready":
            await asyncio.sleep(0.01)
        async with http.get(f"{url}/health/ready") as resp:
            assert resp.status == 503
            assert (await resp.json())["status"] == "fail"


async def test_http_keeps_serving_during_the_shutdown_delay_and_closes_before_resources() -> None:
    events: list[str] = []
    service = make_service(drain_timeout=5, shutdown_delay=0.5)

    class Pool:
        name = "pool"

        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            # By now the HTTP server must be gone: no request can meet a closed pool.
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", service.port)
            except OSError:
                events.append("pool closed after http")
            else:
                writer.close()
                events.append("pool closed while http was listening")

    service.add_resource(Pool())

    async def idle(stopping: asyncio.Event) -> None:
        await stopping.wait()

    service.add_loop("idle", idle)
    task = asyncio.create_task(service.run(install_signal_handlers=False))
    while service.state != "ready":
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{service.port}"
    service.request_stop()
    async with aiohttp.ClientSession() as http, http.get(f"{url}/health/ready") as resp:
        # Draining: still answering, but out of rotation.
        assert resp.status == 503
        assert (await resp.json())["checks"]["lifecycle"]["detail"] == "draining"
    assert await asyncio.wait_for(task, 5) == 0
    assert events == ["pool closed after http"]
