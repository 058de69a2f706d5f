"""RFC 9457 problem details: the one error vocabulary of the API and the middleware that renders
every failure (ours, aiohttp's and unexpected ones) as `application/problem+json`.

Client mistakes map to 4xx with a precise detail; an unavailable database maps to 503; anything
else is logged with the request id and answered with a generic 500, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

import asyncpg
import orjson
import structlog
from aiohttp import web
from pydantic import ValidationError

from sma_common.logging import REQUEST_ID

log = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
Location = Literal["body", "query", "path", "header"]

# Errors that mean "the database cannot answer now", not "the request is wrong".
_DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One failing input: where it was (`body`, `query`, `path`), its name, and what is wrong."""

    location: Location
    name: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"location": self.location, "name": self.name, "detail": self.detail}


class ProblemError(Exception):
    """Raised anywhere in request handling; the middleware renders it as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        # `about:blank` means "nothing beyond the HTTP status"; named kinds let clients branch.
        self.type = f"urn:sma:problem:{kind}" if kind else "about:blank"
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, detail)


def invalid(errors: Sequence[FieldError]) -> ProblemError:
    """422 naming every failing field, in the detail as well as under `errors`."""
    summary = "; ".join(f"{e.name}: {e.detail}" for e in errors)
    return ProblemError(422, f"Invalid request: {summary}", kind="validation-error", errors=errors)


def from_validation_error(exc: ValidationError, location: Location) -> ProblemError:
    errors = [
        FieldError(location, ".".join(str(part) for part in err["loc"]) or location, err["msg"])
        for err in exc.errors(include_url=False)
    ]
    return invalid(errors)


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str,
    problem_type: str = "about:blank",
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body: dict[str, object] = {
        "type": problem_type,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = [e.as_json() for e in errors]
    request_id = REQUEST_ID.get()
    if request_id:
        body["request_id"] = request_id
    return web.Response(
        body=orjson.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _from_http_exception(exc: web.HTTPException, instance: str) -> web.Response:
    # aiohttp's own 404/405/413: keep the status and its useful headers (Allow), drop its text body.
    headers = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
    detail = {
        404: f"No route matches {instance}",
        405: f"Method not allowed here; allowed: {headers.get('Allow', 'none')}",
    }.get(exc.status, exc.text or HTTPStatus(exc.status).phrase)
    return problem_response(exc.status, detail, instance=instance, headers=headers)


def render_failure(request: web.Request, exc: Exception) -> web.Response:
    """`exc`, raised while handling `request`, as a problem; re-raises what is not a failure (an
    HTTP redirect). A plain function, not a middleware layer: `http_policies.ResponsePolicies`
    calls it from the gateway's one response-policies layer."""
    if isinstance(exc, ProblemError):
        return problem_response(
            exc.status, exc.detail, instance=request.path, problem_type=exc.type,
            errors=exc.errors, headers=exc.headers,
        )
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return _from_http_exception(exc, request.path)
    if isinstance(exc, _DATABASE_UNAVAILABLE):
        log.warning("request.database_unavailable", path=request.path, error=repr(exc))
        return problem_response(
            503, "The database is unavailable; retry shortly.", instance=request.path,
            headers={"Retry-After": "5"},
        )
    log.exception("request.failed", method=request.method, path=request.path, exc_info=exc)
    return problem_response(
        500, "The server failed to handle this request; quote the request id when reporting it.",
        instance=request.path,
    )

