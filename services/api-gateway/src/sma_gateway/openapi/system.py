"""The routes every SMA service serves (`sma_common.http_server`: health, readiness, metrics) and
the document itself, described here because their handlers live outside the gateway. Tag
`system`, no API key."""

from __future__ import annotations

from collections.abc import Mapping

from sma_gateway.openapi.models import HealthDetails, Liveness, Readiness

SYSTEM_TAG = "system"
OPENAPI_PATH = "/openapi.json"


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(description: str, model: type) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _get(operation_id: str, summary: str, responses: Mapping[str, object], description: str | None = None
         ) -> dict[str, object]:
    op: dict[str, object] = {
        "operationId": operation_id, "summary": summary, "tags": [SYSTEM_TAG], "security": [],
        "responses": dict(responses),
    }
    if description:
        op["description"] = description
    return op


_LIVE = {"200": _json("The process is up.", Liveness)}
_READY = {
    "200": _json("Ready (`ok`), or serving with a degraded dependency (`degraded`, e.g. Redis down).", Readiness),
    "503": _json("Not ready: starting, draining, or a required dependency failed.", Readiness),
}
_DETAILED = {
    "200": _json("Readiness with the service's identity and state.", HealthDetails),
    "503": _json("Not ready, with the same details.", HealthDetails),
}
_METRICS = {
    "200": {
        "description": "Prometheus text exposition.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
_DOCUMENT = {
    "200": {
        "description": "This OpenAPI document.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}

# Path -> the GET operation served there.
SYSTEM_OPERATIONS: dict[str, dict[str, object]] = {
    "/health/live": _get("health_live", "Liveness", _LIVE),
    "/livez": _get("livez", "Liveness (alias of /health/live)", _LIVE),
    "/health/ready": _get("health_ready", "Readiness", _READY,
                          "Whether the gateway can serve: the database is required; Redis and the "
                          "scheduler's heartbeat only degrade it."),
    "/readyz": _get("readyz", "Readiness (alias of /health/ready)", _READY),
    "/health/detailed": _get("health_detailed", "Readiness with details", _DETAILED),
    "/metrics": _get("metrics", "Prometheus metrics", _METRICS),
    OPENAPI_PATH: _get("openapi", "This OpenAPI 3.1 document", _DOCUMENT),
}

SYSTEM_MODELS: tuple[type, ...] = (Liveness, Readiness, HealthDetails)
