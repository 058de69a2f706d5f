"""Metrics plumbing shared by every service: a registry per service (never the global one),
build info, and the `/metrics` handler. Each service declares its own metrics in its own
`metrics.py` against the registry its composition root creates.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

__all__ = ["LATENCY_BUCKETS", "create_registry", "make_aiohttp_handler"]

# Seconds; covers a 1 ms cache hit up to the runbook's 2 s p99 threshold and beyond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


def create_registry(service: str, version: str) -> CollectorRegistry:
    """A fresh registry with process, GC and platform collectors and `sma_build_info`."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    info = Gauge(
        "sma_build_info", "Always 1; labels carry the service and its version.",
        ["service", "version"], registry=registry,
    )
    info.labels(service=service, version=version).set(1)
    return registry


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics(Collector):
    """HTTP server metrics under `<namespace>_http_`: `request_duration_seconds` (a histogram by
    method, route template and status class), `requests_total` (by method, route template and
    exact status) and `requests_in_flight`. The gateway, whose HTTP traffic is the product, names
    them `sma_gateway_http_*`.

    Requests are tallied in plain lists and turned into metric families at scrape time: a
    prometheus-client histogram and counter update per request (each taking a lock) cost more
    than a cached read's own work. Everything runs on the event loop's thread, scrapes included.
    Methods outside HTTP's usual set count as `other`, so a client cannot mint label values."""

    def __init__(self, registry: CollectorRegistry, namespace: str = "sma") -> None:
        self._prefix = f"{namespace}_http_"
        # (method, route, status) -> [count per bucket (the last one +Inf)..., sum of seconds]
        self._cells: dict[tuple[str, str, int], list[float]] = {}
        self.in_flight = 0
        registry.register(self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        cell = self._cells.get((method, route, status))
        if cell is None:
            if method not in _METHODS:
                method = "other"
            cell = self._cells.setdefault((method, route, status), [0] * (len(LATENCY_BUCKETS) + 2))
        cell[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        cell[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        duration = HistogramMetricFamily(
            self._prefix + "request_duration_seconds", "HTTP requests served, by route template and status class.",
            labels=["method", "route", "status_class"])
        requests = CounterMetricFamily(
            self._prefix + "requests", "HTTP requests served, by route template, method and status code.",
            labels=["method", "route", "status"])
        by_class: dict[tuple[str, str, str], list[float]] = {}
        for (method, route, status), cell in self._cells.items():
            requests.add_metric([method, route, str(status)], sum(cell[:-1]))
            merged = by_class.setdefault((method, route, f"{status // 100}xx"), [0] * len(cell))
            for i, value in enumerate(cell):
                merged[i] += value
        for labels, cell in by_class.items():
            cumulative = list(accumulate(cell[:-1]))
            buckets = [(str(bound), count) for bound, count in zip(LATENCY_BUCKETS, cumulative, strict=False)]
            duration.add_metric(list(labels), [*buckets, ("+Inf", cumulative[-1])], cell[-1])
        yield duration
        yield requests
        yield GaugeMetricFamily(self._prefix + "requests_in_flight", "HTTP requests being served.",
                                value=self.in_flight)

    def describe(self) -> Iterator[Metric]:
        return self.collect()  # names only matter; families are cheap to build


class Tally(Collector):
    """A counter with one label whose values are all known up front, for something counted on every
    request: plain integer adds, exported at scrape time (see `HttpMetrics` for why)."""

    def __init__(self, name: str, documentation: str, label: str, values: Iterable[str],
                 registry: CollectorRegistry) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self.counts = dict.fromkeys(values, 0)
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, count in self.counts.items():
            family.add_metric([value], count)
        yield family

    def describe(self) -> Iterator[Metric]:
        return self.collect()

