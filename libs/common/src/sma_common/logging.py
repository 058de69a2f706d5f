"""structlog configuration, done once per process: JSON in production, readable in a terminal.

Context (command_id, platform, job_id) is bound with `structlog.contextvars` per unit of work,
so log lines join up without passing loggers around. The HTTP request id has its own context
variable (`REQUEST_ID`), set once per request: binding and unbinding through structlog on every
request costs more than the rest of a cached read's bookkeeping.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Literal

import structlog

# The id of the HTTP request being served (each request runs in its own task, so its own context).
REQUEST_ID: ContextVar[str | None] = ContextVar("sma_request_id", default=None)

_SECRET_KEYS = frozenset({"password", "secret", "token", "authorization", "api_key", "client_secret"})


def _redact_secrets(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    # Defence in depth: SecretStr already redacts itself, but a raw value bound under an
    # obviously secret key is masked too.
    for key in event_dict.keys() & _SECRET_KEYS:
        event_dict[key] = "**********"
    return event_dict


def _add_request_id(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def configure_logging(
    level: str = "INFO", fmt: Literal["json", "console", "auto"] = "auto", service: str | None = None
) -> None:
    """Configure structlog and the stdlib root logger (for aiohttp, aiokafka, asyncpg)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter that is noise at INFO.
    for noisy in ("aiokafka", "aiohttp.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def _identity(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return event_dict
