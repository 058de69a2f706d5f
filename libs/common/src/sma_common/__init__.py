"""sma_common: the cross-service mechanisms and contracts of SMA (lifecycle, settings, logging,
health, metrics, retry, messages, Postgres/Kafka/Redis plumbing). No domain logic lives here."""

from sma_common.clock import Clock, FakeClock, SystemClock
from sma_common.health import Check, CheckFailed, CheckResult
from sma_common.logging import configure_logging
from sma_common.metrics import create_registry
from sma_common.platforms import METRIC_IDS, Platform
from sma_common.retry import RetryPolicy
from sma_common.service import Resource, Service, sleep_or_stop

__version__ = "0.1.0"

__all__ = [
    "METRIC_IDS",
    "Check",
    "CheckFailed",
    "CheckResult",
    "Clock",
    "FakeClock",
    "Platform",
    "Resource",
    "RetryPolicy",
    "Service",
    "SystemClock",
    "__version__",
    "configure_logging",
    "create_registry",
    "sleep_or_stop",
]
