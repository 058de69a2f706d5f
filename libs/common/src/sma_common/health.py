"""Health checks and the contract JSON for `/health/ready` and `/health/detailed`.

A service registers `Check`s; it never writes health handlers itself. A check's severity says
what its failure does to readiness: `fail` makes the service not ready (503), `degraded` keeps
it ready but says so, `info` is only reported (the gateway's view of the scheduler).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "degraded", "fail"]
Severity = Literal["fail", "degraded", "info"]


class CheckFailed(Exception):
    """Raised by a probe to report a failure with a human-readable detail."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    status: Status
    latency_ms: float
    detail: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"status": self.status, "latency_ms": round(self.latency_ms, 2), "detail": self.detail}


Probe = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Check:
    """One named probe. The probe returns an optional detail, or raises `CheckFailed`."""

    name: str
    probe: Probe
    severity: Severity = "fail"
    timeout_seconds: float = 2.0

    async def run(self) -> CheckResult:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(self.probe(), self.timeout_seconds)
            status: Status = "ok"
        except CheckFailed as exc:
            detail, status = str(exc), _failed_status(self.severity)
        except TimeoutError:
            detail, status = f"no answer within {self.timeout_seconds:g}s", _failed_status(self.severity)
        except Exception as exc:  # a probe's own error is a failed check, never a 500
            detail, status = f"{type(exc).__name__}: {exc}", _failed_status(self.severity)
        return CheckResult(status, (time.perf_counter() - started) * 1000, detail)


def _failed_status(severity: Severity) -> Status:
    return "degraded" if severity == "degraded" else "fail"


async def run_checks(checks: list[Check]) -> tuple[Status, dict[str, CheckResult]]:
    """Run every check concurrently; the overall status ignores `info` checks."""
    results = await asyncio.gather(*(c.run() for c in checks))
    by_name = {c.name: r for c, r in zip(checks, results, strict=True)}
    overall: Status = "ok"
    for check, result in zip(checks, results, strict=True):
        if check.severity == "info" or result.status == "ok":
            continue
        if result.status == "fail" and check.severity == "fail":
            return "fail", by_name
        overall = "degraded"
    return overall, by_name
