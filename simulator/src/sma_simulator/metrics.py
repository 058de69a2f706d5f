"""The simulator's own metrics, declared once against the registry the composition root owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SimulatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "sma_simulator_requests_total", "Requests served by the platform simulator.",
            ["platform", "endpoint", "status_class"], registry=registry,
        )
        self._rate_limited = Counter(
            "sma_simulator_rate_limited_total", "Requests the simulator answered 429 (its limit or a fault).",
            ["platform"], registry=registry,
        )
        self._faults = Counter(
            "sma_simulator_faults_injected_total", "Requests answered with a scripted fault.",
            ["platform", "kind"], registry=registry,
        )

    def record_request(self, platform: str, endpoint: str, status: int) -> None:
        self._requests.labels(platform, endpoint, f"{status // 100}xx").inc()
        if status == 429:
            self._rate_limited.labels(platform).inc()

    def record_fault(self, platform: str, kind: str) -> None:
        self._faults.labels(platform, kind).inc()
