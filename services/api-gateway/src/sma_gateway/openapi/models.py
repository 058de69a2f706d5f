"""Documentation-only models: the problem+json body `sma_gateway.problem` renders and the
bodies of the system routes every service serves. Nothing parses or renders with these; the
schemathesis suite checks real responses against them, so they cannot drift unnoticed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ProblemFieldError(BaseModel):
    location: Literal["body", "query", "path", "header"]
    name: str = Field(description="the failing field (dotted for nested fields)")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error the API answers."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(description="`about:blank`, or `urn:sma:problem:<kind>` for errors clients may branch on")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong, for a person")
    instance: str = Field(description="the request path")
    # Absent rather than null when there is nothing to say (so the schema has no null, nor a default).
    errors: list[ProblemFieldError] | SkipJsonSchema[None] = Field(
        default=None, description="each failing input", json_schema_extra=_no_default)
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="quote it when reporting a problem", json_schema_extra=_no_default)


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "fail"]
    checks: dict[str, dict[str, object]] = Field(description="each dependency's check: status, latency_ms, detail")


class HealthDetails(Readiness):
    """Readiness plus the service's identity and state (pool sizes, cache state); never secrets."""

    model_config = ConfigDict(extra="allow")

    service: str
    version: str
    instance: str
    state: str
    uptime_seconds: float
