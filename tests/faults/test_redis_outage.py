"""Redis stopped for 30 s under a gateway process serving reads: every read is answered (zero
errors), readiness says `degraded` (still 200), the per-key rate limiter fails open (the
documented choice, docs/ARCHITECTURE.md "Per-key API rate limits": reads must keep working; the
ingress's limits remain), and once Redis is back the gateway recovers by itself: readiness
`ok`, cached reads, rate limits enforced again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import asyncpg
import pytest

from sma_common.api_keys import create_key
from sma_common.platforms import Platform
from tests.faults.rig import FaultStack, eventually, fault_stack

pytestmark = [pytest.mark.faults]

OUTAGE_SECONDS = 30.0
BURST = 5


async def _key(stack: FaultStack, name: str) -> str:
    conn = await asyncpg.connect(stack.database_url)
    try:
        _, token = await create_key(conn, name, ["read"])
    finally:
        await conn.close()
    return token


async def _statuses(http: aiohttp.ClientSession, url: str, paths: list[str], token: str) -> Counter[int]:
    async def one(path: str) -> int:
        async with http.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp:
            await resp.read()
            return resp.status

    return Counter(await asyncio.gather(*(one(p) for p in paths)))


async def _ready_status(stack: FaultStack, expected: str) -> bool:
    code, body = await stack.readiness("gateway")
    return code == 200 and body["status"] == expected


@pytest.mark.timeout(240)
async def test_redis_down_30s_gateway_serves_every_read_degraded_fails_open_and_recovers() -> None:
    async with fault_stack(accounts_per_platform=3) as stack:
        jobs = await stack.seed(Platform.BLUESKY, 3)
        await stack.start("collector", "sma_collector")
        await stack.produce_round(Platform.BLUESKY, jobs, size=3)
        await eventually(lambda: _executions(stack, 3), timeout=60, what="points to read")
        await stack.sigterm("collector", timeout=30)
        gateway = await stack.start("gateway", "sma_gateway", SMA_API_RATE_LIMIT_PER_MINUTE=60,
                                    SMA_API_RATE_LIMIT_BURST=BURST, SMA_CACHE_REDIS_RETRY_SECONDS=1)
        account = jobs[0][1]
        reads = ["/api/accounts", f"/api/accounts/{account}", f"/api/accounts/{account}/metrics?metric=followers",
                 f"/api/accounts/{account}/summary", "/api/jobs"]
        limited, reader = await _key(stack, "limited"), await _key(stack, "reader")

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            # Redis up: the limiter limits (more requests than the burst at once: some refused).
            assert (await _statuses(http, gateway, reads * 3, limited))[429] > 0
            assert await _ready_status(stack, "ok")

            await stack.redis.stop()
            outage_started = time.monotonic()
            served: Counter[int] = Counter()
            degraded_seen = False
            while time.monotonic() - outage_started < OUTAGE_SECONDS:
                served += await _statuses(http, gateway, reads, reader)
                degraded_seen = degraded_seen or await _ready_status(stack, "degraded")
                await asyncio.sleep(0.2)
            assert set(served) == {200}, f"reads during the outage: {dict(served)}"
            assert served[200] > 10 * BURST, "far more reads than the key's burst, none refused: fail open"
            assert degraded_seen, "readiness never said degraded while Redis was down"
            _, body = await stack.readiness("gateway")
            checks = body["checks"]
            assert isinstance(checks, dict) and checks["redis"]["status"] != "ok"

            await stack.redis.start()
            await eventually(lambda: _ready_status(stack, "ok"), timeout=30, what="readiness ok again")
            metrics = f"{gateway}{reads[2]}"
            await eventually(lambda: _cached(http, metrics, reader), timeout=30, what="cached reads again")
            # Rate limiting is back (the restarted Redis holds fresh buckets).
            await eventually(lambda: _limited(http, gateway, reads, limited), timeout=30, what="limits enforced")
            assert stack.bench.processes["gateway"].running()


async def _executions(stack: FaultStack, n: int) -> bool:
    return await stack.execution_count() >= n


async def _cached(http: aiohttp.ClientSession, url: str, token: str) -> bool:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        return resp.headers.get("X-Cache") in {"hit", "local"}


async def _limited(http: aiohttp.ClientSession, url: str, paths: list[str], token: str) -> bool:
    return (await _statuses(http, url, paths * 3, token))[429] > 0
