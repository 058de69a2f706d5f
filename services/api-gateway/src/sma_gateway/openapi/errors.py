"""The error responses of the OpenAPI document: every one is `application/problem+json` with the
shared `Problem` schema, plus the headers the gateway sends with it (challenge, retry hints)."""

from __future__ import annotations

from http import HTTPStatus

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_STRING: dict[str, object] = {"type": "string"}
_INTEGER_STRING: dict[str, object] = {"type": "string", "pattern": "^[0-9]+$"}

_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON.",
    401: "No API key, a malformed one, or an unknown or revoked key.",
    403: "The API key lacks the scope this operation needs.",
    404: "Nothing has this id (an id of the wrong form names nothing either).",
    409: "The request conflicts with the resource's state.",
    413: "The body is larger than the configured limit.",
    422: "A parameter or body field is invalid; `errors` names each one.",
    429: "This API key is over its rate limit; retry after `Retry-After` seconds.",
    500: "An unexpected failure; quote `request_id` when reporting it.",
    502: "The platform rejected the gateway's credentials.",
    503: "A dependency (the database, or the platform) cannot answer now; retry after `Retry-After`.",
    504: "The request did not finish within the gateway's deadline.",
}

_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "requests the key's bucket holds",
    "RateLimit-Remaining": "requests left in the bucket now",
    "RateLimit-Reset": "seconds until the bucket is full again",
    "RateLimit-Policy": "the limit and its window, e.g. `100;w=10`",
}

_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": 'the bearer challenge, e.g. `Bearer realm="sma", error="invalid_token"`'},
    429: {"Retry-After": "seconds to wait before retrying", **_RATE_LIMIT_HEADERS},
    503: {"Retry-After": "seconds to wait before retrying (absent when unknown)"},
}


def response_name(status: int) -> str:
    return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")


def header(description: str, schema: dict[str, object] | None = None) -> dict[str, object]:
    return {"description": description, "schema": schema or _STRING}


def error_response(status: int) -> dict[str, object]:
    response: dict[str, object] = {
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in _HEADERS:
        response["headers"] = {
            name: header(text, _INTEGER_STRING if name in ("Retry-After", "RateLimit-Reset") else None)
            for name, text in _HEADERS[status].items()
        }
    return response


def error_components(statuses: set[int]) -> dict[str, dict[str, object]]:
    """`components.responses`, one per error status the document uses."""
    return {response_name(status): error_response(status) for status in sorted(statuses)}


def error_ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{response_name(status)}"}


def rate_limit_headers() -> dict[str, dict[str, object]]:
    """Sent with every /api response while the limiter can reach Redis (absent when it fails open)."""
    return {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS}


def header_components() -> dict[str, dict[str, object]]:
    return {name: header(text) for name, text in _RATE_LIMIT_HEADERS.items()}
