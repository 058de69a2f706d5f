"""Scripted faults: what tests and demos ask the simulator to get wrong, and for how long.

A fault targets one platform and optionally one endpoint, and lasts for its next `count`
matching requests or for `duration_seconds` of simulator time (default: one request). Without
an endpoint a fault hits the platform's API endpoints but not its token endpoint, so an
`unauthorized` fault exercises token renewal; name `oauth2/token` to fault the token endpoint.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["rate_limit", "server_error", "timeout", "unauthorized"]
AUTH_ENDPOINTS = frozenset({"oauth2/token", "api/v1/access_token"})
MAX_ACTIVE_FAULTS = 100


DEFAULT_RESET_SECONDS = 60.0


class FaultSpec(BaseModel):
    """The JSON body of `POST /_sim/faults`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str
    kind: FaultKind
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    duration_seconds: float | None = Field(default=None, gt=0, le=86_400)
    endpoint: str | None = None
    # rate_limit: seconds until the advertised reset (default 60);
    # server_error: a `Retry-After` header to send (none by default).
    retry_after_seconds: float | None = Field(default=None, ge=0, le=3_600)
    # server_error: the status to answer with.
    status: int = Field(default=500, ge=500, le=599)
    # timeout: how long to hold the response (default: the simulator's setting).
    delay_seconds: float | None = Field(default=None, gt=0, le=600)

    @property
    def reset_after(self) -> float:
        return DEFAULT_RESET_SECONDS if self.retry_after_seconds is None else self.retry_after_seconds

    def retry_after_header(self) -> dict[str, str]:
        if self.retry_after_seconds is None:
            return {}
        return {"Retry-After": str(math.ceil(self.retry_after_seconds))}

    @model_validator(mode="after")
    def _count_or_duration(self) -> Self:
        if self.count is not None and self.duration_seconds is not None:
            raise ValueError("give count or duration_seconds, not both")
        return self


@dataclass(frozen=True, slots=True)
class Fault:
    id: int
    spec: FaultSpec
    remaining: int | None
    until: datetime | None

    def matches(self, platform: str, endpoint: str) -> bool:
        if self.spec.platform != platform:
            return False
        if self.spec.endpoint is None:
            return endpoint not in AUTH_ENDPOINTS
        return self.spec.endpoint == endpoint

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            **self.spec.model_dump(exclude_none=True),
            "remaining": self.remaining,
            "until": self.until.isoformat() if self.until else None,
        }


class FaultBook:
    """The active faults, consumed by requests in the order they were scripted."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec, now: datetime) -> Fault:
        self._expire(now)
        if len(self._faults) >= MAX_ACTIVE_FAULTS:
            raise ValueError(f"at most {MAX_ACTIVE_FAULTS} faults may be active; clear some first")
        until = now + timedelta(seconds=spec.duration_seconds) if spec.duration_seconds else None
        remaining = None if until else (spec.count or 1)
        fault = Fault(next(self._ids), spec, remaining, until)
        self._faults.append(fault)
        return fault

    def take(self, platform: str, endpoint: str, now: datetime) -> Fault | None:
        """The fault this request suffers, if any; a counted fault is used up by one request."""
        self._expire(now)
        for index, fault in enumerate(self._faults):
            if not fault.matches(platform, endpoint):
                continue
            if fault.remaining is not None:
                left = fault.remaining - 1
                if left:
                    self._faults[index] = replace(fault, remaining=left)
                else:
                    del self._faults[index]
            return fault
        return None

    def active(self, now: datetime) -> list[Fault]:
        self._expire(now)
        return list(self._faults)

    def clear(self, platform: str | None = None) -> int:
        before = len(self._faults)
        self._faults = [f for f in self._faults if platform is not None and f.spec.platform != platform]
        return before - len(self._faults)

    def _expire(self, now: datetime) -> None:
        self._faults = [f for f in self._faults if f.until is None or now < f.until]
