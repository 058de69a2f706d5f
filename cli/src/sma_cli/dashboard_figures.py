"""The key figures `sma dashboard` shows, computed from two scrapes of each service's `/metrics`.

Rates and percentiles cover the interval between the scrapes (counter and bucket differences,
as Prometheus' `rate` and `histogram_quantile` would); gauges are read from the latest scrape.
Metric names are the catalogue's (docs/METRICS.md). A service that does not answer is "down"
and its figures are None, shown as "-".
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

SERVICES = ("gateway", "scheduler", "collector", "maintenance")
Labels = tuple[tuple[str, str], ...]


@dataclass
class Scrape:
    """One service's samples at one moment: sample name -> {labels: value}; empty when down."""

    url: str
    at: float
    samples: dict[str, dict[Labels, float]] = field(default_factory=dict)
    error: str = ""

    @property
    def up(self) -> bool:
        return not self.error

    def values(self, name: str, **match: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(labels), value) for labels, value in self.samples.get(name, {}).items()
                if all(dict(labels).get(k) == v for k, v in match.items())]

    def total(self, name: str, **match: str) -> float:
        return sum(value for _, value in self.values(name, **match))

    @property
    def version(self) -> str:
        found = self.values("sma_build_info")
        return found[0][0].get("version", "") if found else ""


async def scrape(session: aiohttp.ClientSession, url: str) -> Scrape:
    at = time.time()
    try:
        async with session.get(f"{url.rstrip('/')}/metrics") as resp:
            if resp.status != 200:
                return Scrape(url, at, error=f"HTTP {resp.status}")
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Scrape(url, at, error=str(exc) or type(exc).__name__)
    samples: dict[str, dict[Labels, float]] = defaultdict(dict)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    except ValueError as exc:
        return Scrape(url, at, error=f"not the Prometheus text format: {exc}")
    return Scrape(url, at, dict(samples))


def counter_delta(before: Scrape, after: Scrape, name: str, **match: str) -> float:
    """Increase of a counter between the scrapes; a restart in between (a smaller value) counts from 0."""
    old = {tuple(sorted(labels.items())): v for labels, v in before.values(name, **match)}
    increase = 0.0
    for labels, value in after.values(name, **match):
        previous = old.get(tuple(sorted(labels.items())), 0.0)
        increase += value - previous if value >= previous else value
    return increase


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts {le: count}; None without data."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower  # the answer lies above the highest finite bound: report that bound
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = le, count
    return lower


def bucket_delta(before: Scrape, after: Scrape, family: str, **match: str) -> dict[float, float]:
    """Bucket counts {le: increase} summed over every other label, between the scrapes."""
    def by_le(s: Scrape) -> dict[tuple[float, Labels], float]:
        return {(float(labels["le"]), tuple(sorted((k, v) for k, v in labels.items() if k != "le"))): value
                for labels, value in s.values(f"{family}_bucket", **match)}

    old, new = by_le(before), by_le(after)
    summed: dict[float, float] = defaultdict(float)
    for key, value in new.items():
        previous = old.get(key, 0.0)
        summed[key[0]] += value - previous if value >= previous else value
    return dict(summed)


def _quantiles(before: Scrape, after: Scrape, family: str) -> tuple[float | None, float | None]:
    buckets = bucket_delta(before, after, family)
    return histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


CACHE_READS = "sma_gateway_cache_requests_total"


def _cache_reads(count: Callable[[str], float]) -> tuple[float, float]:
    """(served from a cache, loaded): `local` (process memory) and `hit` (Redis) against `miss` and
    `coalesced` (a miss that waited for another request's load); errors and bypasses are neither."""
    return count("local") + count("hit"), count("miss") + count("coalesced")


def _http_family(scrape: Scrape) -> str:
    """The gateway's request histogram: `sma_gateway_http_…` (its own namespace) or, from gateways
    that predate it, the shared `sma_http_…`."""
    own = "sma_gateway_http_request_duration_seconds"
    return own if f"{own}_count" in scrape.samples else "sma_http_request_duration_seconds"


def figures(before: dict[str, Scrape], after: dict[str, Scrape]) -> dict[str, object]:
    """The dashboard's figures; each None when its service is down in either scrape."""
    result: dict[str, object] = {}
    gw0, gw1 = before["gateway"], after["gateway"]
    if gw0.up and gw1.up:
        dt = max(gw1.at - gw0.at, 1e-9)
        family = _http_family(gw1)
        requests = counter_delta(gw0, gw1, f"{family}_count")
        errors = counter_delta(gw0, gw1, f"{family}_count", status_class="5xx")
        p50, p99 = _quantiles(gw0, gw1, family)
        hits, misses = _cache_reads(lambda result: counter_delta(gw0, gw1, CACHE_READS, result=result))
        if hits + misses == 0:  # no cached read in the interval: the ratio since the gateway started
            hits, misses = _cache_reads(lambda result: gw1.total(CACHE_READS, result=result))
        result.update({
            "request_rate_per_second": round(requests / dt, 2),
            "error_5xx_ratio": round(errors / requests, 4) if requests else 0.0,
            "request_latency_p50_ms": _ms(p50), "request_latency_p99_ms": _ms(p99),
            "cache_hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        })
    sc0, sc1 = before["scheduler"], after["scheduler"]
    if sc0.up and sc1.up:
        dt = max(sc1.at - sc0.at, 1e-9)
        p50, p99 = _quantiles(sc0, sc1, "sma_scheduler_dispatch_lag_seconds")
        last_tick = sc1.total("sma_scheduler_last_tick_timestamp_seconds")
        held = sorted({labels["platform"] for labels, v in sc1.values("sma_scheduler_held_jobs")
                       if v > 0 and labels.get("reason") in ("rate_limited", "quota")})
        result.update({
            "jobs_dispatched_per_second": round(counter_delta(sc0, sc1, "sma_scheduler_jobs_dispatched_total") / dt, 2),
            "dispatch_lag_p50_seconds": None if p50 is None else round(p50, 3),
            "dispatch_lag_p99_seconds": None if p99 is None else round(p99, 3),
            "due_jobs": sc1.total("sma_scheduler_due_jobs"), "late_jobs": sc1.total("sma_scheduler_late_jobs"),
            "last_tick_age_seconds": round(sc1.at - last_tick, 1) if last_tick else None,
            "held_platforms": held,
        })
    co0, co1 = before["collector"], after["collector"]
    if co0.up and co1.up:
        dt = max(co1.at - co0.at, 1e-9)
        stopped = sorted({labels["platform"] for labels, _ in co1.values("sma_collector_rate_limited_total")
                          if counter_delta(co0, co1, "sma_collector_rate_limited_total", platform=labels["platform"])})
        result.update({
            "consumer_lag_messages": co1.total("sma_collector_consumer_lag_messages"),
            "points_written_per_second": round(counter_delta(co0, co1, "sma_collector_points_written_total") / dt, 2),
            "executions_per_second": round(counter_delta(co0, co1, "sma_collector_executions_total") / dt, 2),
            "rate_limited_platforms": stopped,
        })
    if after["maintenance"].up:
        m = after["maintenance"]
        result.update({
            "maintenance_leader": bool(m.total("sma_maintenance_leader")),
            "maintenance_findings": m.total("sma_maintenance_check_findings"),
            "maintenance_task_errors": m.total("sma_maintenance_task_runs_total", status="error"),
        })
    return result
