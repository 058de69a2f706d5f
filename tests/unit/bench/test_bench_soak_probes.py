"""bench/soak/probes.py: the memory verdict's arithmetic (least-squares slope per minute, growth
after warm-up, the second half's slope) and the gateway load's pacing and counting, against a
real aiohttp server."""

from __future__ import annotations

import time

from aiohttp import web

from bench.soak.probes import GatewayLoad, MemoryTrack, slope_per_minute


def test_slope_is_per_minute_and_needs_three_samples() -> None:
    assert slope_per_minute([(0, 10.0), (60, 11.0)]) is None
    assert slope_per_minute([(0, 10.0), (60, 11.0), (120, 12.0)]) == 1.0
    assert slope_per_minute([(t, 5.0) for t in range(0, 300, 5)]) == 0.0
    assert slope_per_minute([(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]) is None


def test_a_levelling_process_has_a_flat_second_half_and_a_leak_does_not() -> None:
    warming, leaking = MemoryTrack(), MemoryTrack()
    for t in range(0, 601, 5):
        warming.add(t, int((70 + min(t, 200) / 50) * 1e6))  # +4 MB over the first 200 s, then flat
        leaking.add(t, int((70 + t / 60 * 2) * 1e6))  # 2 MB a minute throughout
    warm, leak = warming.report(warmup_seconds=60), leaking.report(warmup_seconds=60)
    assert warm["start_mb"] == 71.2 and warm["end_mb"] == 74.0 and warm["growth_mb"] == 2.8
    assert warm["late_slope_mb_per_min"] == 0.0 and warm["slope_mb_per_min"] > 0  # type: ignore[operator]
    assert leak["late_slope_mb_per_min"] == 2.0 and leak["slope_mb_per_min"] == 2.0
    assert MemoryTrack().report(60)["slope_mb_per_min"] is None
    skipped = MemoryTrack()
    skipped.add(0, None)  # a process that had exited
    assert skipped.samples == []


async def test_gateway_load_keeps_its_rate_and_counts_statuses(unused_tcp_port: int) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.Response(status=503 if request.path.endswith("/summary") else 200)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        load = GatewayLoad(f"http://127.0.0.1:{unused_tcp_port}", "sma_t_s", [1, 2, 3], rate=40)
        started = time.monotonic()
        await load.run(started + 1.0)
        elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    assert 36 <= load.sent <= 41 and elapsed < 1.5
    assert set(seen) == {"Bearer sma_t_s"}
    assert load.server_errors == load.statuses.get(503, 0) > 0 and load.statuses.get(200, 0) > 0
    assert load.five_xx[0].startswith("503 /api/accounts/") and not load.errors
    assert load.quantile_ms(0.99) is not None
