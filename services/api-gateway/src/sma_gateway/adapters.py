"""The platform adapters as the gateway uses them: resolving a handle, URL or id to the platform's
immutable id when a job is created (failures mapped to problems: 422 for the client's input, 503
or 502 for the platform's state), and the resource that closes the adapters at shutdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import structlog

from sma_common.errors import (
    AuthRejected,
    ConfigurationError,
    DependencyTimeout,
    NotFound,
    RateLimited,
    UpstreamUnavailable,
)
from sma_common.platforms import Platform
from sma_gateway.problem import FieldError, ProblemError, invalid
from sma_platforms import PlatformAdapter, ResolvedAccount

log = structlog.get_logger(__name__)

_DEFAULT_RETRY_AFTER_SECONDS = 30


Adapters = Mapping[Platform, PlatformAdapter]


def is_configured(adapters: Adapters, platform: Platform) -> bool:
    adapter = adapters.get(platform)
    return adapter is not None and adapter.is_configured


def _platform_problem(detail: str) -> ProblemError:
    return invalid([FieldError("body", "platform", detail)])


def _unavailable(detail: str, retry_after: float | None) -> ProblemError:
    seconds = max(1, math.ceil(retry_after)) if retry_after else _DEFAULT_RETRY_AFTER_SECONDS
    return ProblemError(503, detail, kind="platform-unavailable", headers={"Retry-After": str(seconds)})


async def resolve_account(adapters: Adapters, platform: Platform, account: str) -> ResolvedAccount:
    """The account as the platform knows it, or a problem saying why it cannot be tracked now."""
    adapter = adapters.get(platform)
    if adapter is None:
        raise _platform_problem(f"platform {platform.value!r} is not implemented")
    if not adapter.is_configured:
        raise _platform_problem(f"platform {platform.value!r} is not configured (its API credentials are not set)")
    try:
        found = await adapter.resolve(account)
    except NotFound:
        detail = f"no account {account!r} was found on {platform.value}"
        raise invalid([FieldError("body", "account", detail)]) from None
    except ConfigurationError as exc:
        raise _platform_problem(f"platform {platform.value!r} is not configured: {exc}") from None
    except RateLimited as exc:
        raise _unavailable(f"{platform.value} is rate-limiting us; retry later.", exc.retry_after) from None
    except (UpstreamUnavailable, DependencyTimeout) as exc:
        log.warning("platform.resolve_unavailable", platform=platform, error=repr(exc))
        raise _unavailable(f"{platform.value} is not answering; retry later.", None) from None
    except AuthRejected:
        log.error("platform.credentials_rejected", platform=platform)
        raise ProblemError(
            502, f"{platform.value} rejected the gateway's API credentials.", kind="platform-credentials-rejected"
        ) from None
    return found
