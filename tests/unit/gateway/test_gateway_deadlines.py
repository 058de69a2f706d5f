"""`RequestDeadlines`: one sweep cancels overdue requests into a 504 problem; a cancellation that
is not the sweep's (a client gone, a shutdown) stays a cancellation."""

import asyncio
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from sma_gateway.http_policies import RequestDeadlines
from sma_gateway.problem import ProblemError


async def _slow(_: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.Response()


async def _fast(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def test_the_sweep_turns_an_overdue_request_into_a_504() -> None:
    deadlines = RequestDeadlines(0.2)
    middleware = deadlines.middleware()
    stopping = asyncio.Event()
    sweeper = asyncio.create_task(deadlines.run(stopping))
    started = time.monotonic()
    with pytest.raises(ProblemError) as caught:
        await asyncio.create_task(middleware(make_mocked_request("GET", "/api/x"), _slow))
    assert 0.2 <= time.monotonic() - started < 0.2 + 2 * deadlines.sweep_seconds + 0.2
    assert caught.value.status == 504 and caught.value.type == "urn:sma:problem:timeout"
    assert deadlines._running == {} and deadlines._expired == set()
    stopping.set()
    await sweeper


async def test_requests_in_time_and_foreign_cancellations_are_left_alone() -> None:
    deadlines = RequestDeadlines(5.0)
    middleware = deadlines.middleware()
    response = await asyncio.create_task(middleware(make_mocked_request("GET", "/api/x"), _fast))
    assert response.status == 200
    deadlines.sweep(time.monotonic())  # nothing overdue, nothing running
    task = asyncio.create_task(middleware(make_mocked_request("GET", "/api/x"), _slow))
    await asyncio.sleep(0.01)
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deadlines._running == {}
