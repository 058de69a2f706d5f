"""`HttpMetrics`: requests tallied in plain Python come out at scrape time as the histogram and
counters Prometheus expects (cumulative buckets, exact statuses, bounded method labels)."""

from prometheus_client import CollectorRegistry

from sma_common.metrics import LATENCY_BUCKETS, HttpMetrics


def _scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_requests_come_out_as_a_histogram_and_counters() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry, "sma_gateway")
    for seconds in (0.0005, 0.003, 0.2, 30.0):
        metrics.observe("GET", "/api/jobs", 200, seconds)
    metrics.observe("GET", "/api/jobs", 404, 0.001)
    metrics.in_flight = 2
    samples = _scrape(registry)

    ok = frozenset({("method", "GET"), ("route", "/api/jobs"), ("status_class", "2xx")})
    buckets = [samples[("sma_gateway_http_request_duration_seconds_bucket", ok | {("le", str(bound))})]
               for bound in LATENCY_BUCKETS]
    assert buckets[0] == 1 and buckets[LATENCY_BUCKETS.index(0.005)] == 2 and buckets[-1] == 3
    assert samples[("sma_gateway_http_request_duration_seconds_bucket", ok | {("le", "+Inf")})] == 4
    assert samples[("sma_gateway_http_request_duration_seconds_count", ok)] == 4
    assert abs(samples[("sma_gateway_http_request_duration_seconds_sum", ok)] - 30.2035) < 1e-9
    by_status = {status: samples[("sma_gateway_http_requests_total",
                                  frozenset({("method", "GET"), ("route", "/api/jobs"), ("status", status)}))]
                 for status in ("200", "404")}
    assert by_status == {"200": 4, "404": 1}
    assert samples[("sma_gateway_http_requests_in_flight", frozenset())] == 2


def test_unusual_methods_share_one_label_and_one_tally() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)
    for method in ("BREW", "PROPFIND", "X" * 50):
        metrics.observe(method, "unmatched", 405, 0.001)
    samples = _scrape(registry)
    methods = {dict(labels)["method"] for name, labels in samples if name == "sma_http_requests_total"}
    assert methods == {"other"}
    assert samples[("sma_http_requests_total",
                    frozenset({("method", "other"), ("route", "unmatched"), ("status", "405")}))] == 3
    assert len(metrics._cells) == 1
