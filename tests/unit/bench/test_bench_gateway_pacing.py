"""bench/gateway/run.py: the arithmetic that paces the half-load run (64 connections, a mean pause
after each answer) and picks the reported round."""

from __future__ import annotations

import pytest

from bench.gateway.run import AIM, CONNECTIONS, WrkResult, _retuned, median_pair


def rate_made(pace_ms: float, latency_ms: float) -> float:
    """What CONNECTIONS connections make when each waits `pace_ms` after an answer `latency_ms` long."""
    return CONNECTIONS * 1000 / (pace_ms + latency_ms)


@pytest.mark.parametrize("latency_ms", [0.3, 1.0, 2.5])
def test_the_retuned_pause_makes_the_aimed_rate_when_the_latency_holds(latency_ms: float) -> None:
    rate = 12_000.0
    for pace in (0.5, 4.0, 20.0):  # too fast, about right, far too slow
        retuned = _retuned(pace, rate, rate_made(pace, latency_ms))
        assert rate_made(retuned, latency_ms) == pytest.approx(rate * AIM, rel=1e-3)


def test_a_server_too_slow_for_the_rate_gets_no_pause() -> None:
    # At 8,000 req/s from 64 connections an answer takes 8 ms, more than the 5.3 ms cycle of 12,000.
    assert _retuned(0.0, 12_000.0, 8_000.0) == 0.0
    assert _retuned(2.0, 12_000.0, 6_000.0) == 0.0


def test_the_reported_round_has_the_median_ratio_not_the_median_throughputs() -> None:
    def run(rps: float) -> WrkResult:
        return WrkResult(rps=rps, p50_ms=1.0, p99_ms=2.0, requests=int(rps), errors=0)

    rounds = [(run(30_000), run(15_000)), (run(20_000), run(14_000)), (run(25_000), run(15_000)),
              (run(18_000), run(8_000)), (run(28_000), run(19_000))]  # ratios 0.5, 0.7, 0.6, 0.44, 0.68
    bare, cached = median_pair(rounds)
    assert (bare.rps, cached.rps) == (25_000, 15_000)
