"""Metrics plumbing shared by every service: a registry per service (never the global one),
build info, and the `/metrics` handler. Each service declares its own metrics in its own
`metrics.py` against the registry its composition root creates.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

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


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    duration: Histogram
    requests: Counter
    in_flight: Gauge


def http_metrics(registry: CollectorRegistry, namespace: str = "sma") -> HttpMetrics:
    """HTTP server metrics under `<namespace>_http_`: request duration (by route template, method and
    status class), requests (by route template, method and exact status) and requests in flight.
    The gateway, whose HTTP traffic is the product, names them `sma_gateway_http_*`."""
    return HttpMetrics(
        duration=Histogram(
            f"{namespace}_http_request_duration_seconds", "HTTP requests served, by route template and status class.",
            ["method", "route", "status_class"], buckets=LATENCY_BUCKETS, registry=registry,
        ),
        requests=Counter(
            f"{namespace}_http_requests", "HTTP requests served, by route template, method and status code.",
            ["method", "route", "status"], registry=registry,
        ),
        in_flight=Gauge(f"{namespace}_http_requests_in_flight", "HTTP requests being served.", registry=registry),
    )
