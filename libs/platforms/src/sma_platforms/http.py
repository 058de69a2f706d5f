"""HTTP mechanics shared by every platform client, written once.

Owns: the `ClientSession` factory (timeouts, bounded connector), bounded retries of transient
failures only (5xx and connection errors, full jitter, `Retry-After` honoured), the rate-limit
state of every reply (header dialects are parsed by `ratelimit.py`), the one mapping from an
HTTP status or error to an `Outcome` (`classify`), and from a failed reply to the
`sma_common.errors` exception the resolve path raises.
4xx answers (401, 404, 429 included) are never retried here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson

from sma_common.clock import Clock, SystemClock
from sma_common.errors import (
    AuthRejected,
    ConfigurationError,
    DependencyTimeout,
    NotFound,
    PermanentError,
    RateLimited,
    SmaError,
    UpstreamUnavailable,
)
from sma_common.retry import RetryPolicy
from sma_common.settings import PlatformSettings
from sma_platforms.base import Outcome, RateLimitState
from sma_platforms.ratelimit import RateLimitFormat, parse_rate_limit, parse_retry_after

__all__ = [
    "AuthHeld", "BudgetSpent", "CallGate", "CallLog", "HttpClient", "HttpReply", "RateLimitFormat", "Refine",
    "UpstreamRejected", "classify",
    "create_session", "describe", "error_for", "parse_rate_limit", "parse_retry_after",
]

USER_AGENT = "sma-platforms/0.1 (self-hosted social media analytics)"
Params = Sequence[tuple[str, str]]
Refine = Callable[[int, object], Outcome | None]
"""A platform's own reading of a status and body; `None` falls back to the shared mapping."""


class UpstreamRejected(PermanentError):
    """The platform refused the request itself (a 4xx other than auth, not-found or rate limit)."""


class BudgetSpent(RateLimited):
    """Refused by the shared budget (or a hold after a 429 or quota error) before any call."""


class AuthHeld(AuthRejected):
    """Refused without a call: the platform rejected these credentials a moment ago."""


class CallGate(Protocol):
    """Admits every API call against the platform's shared budget (`sma_platforms.budget`)."""

    async def admit(self, scope: str) -> None: ...

    async def observe(
        self, scope: str, status: int, state: RateLimitState | None, retry_after: float | None
    ) -> None: ...

    async def hold(self, scope: str, until: float, reason: str) -> None: ...

    async def hold_for_auth(self, scope: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A response, read and released.

    Attributes:
        body: parsed JSON, the (truncated) text when the body is not JSON, or None when empty.
        rate_limit: the platform's rate-limit headers, when it sent any.
        retry_after: seconds to wait before asking again, from `Retry-After` or, on a 429,
            from the rate-limit reset time.
    """

    status: int
    body: object
    rate_limit: RateLimitState | None = None
    retry_after: float | None = None


@dataclass(slots=True)
class CallLog:
    """What one batch spent: API requests sent (retries included) and the tightest rate-limit
    state seen (fewest requests remaining; the latest on a tie). Replies of concurrent calls
    arrive in any order, so "the last one" would not be the platform's latest word."""

    api_calls: int = 0
    rate_limit: RateLimitState | None = None

    def note(self, state: RateLimitState) -> None:
        current = self.rate_limit
        known = current.remaining if current is not None else None
        if known is None or (state.remaining is not None and state.remaining <= known):
            self.rate_limit = state


def classify(status: int | BaseException, body: object = None, *, refine: Refine | None = None) -> Outcome:
    """The one mapping from an HTTP status (or a failed call's exception) to an `Outcome`.

    401 → auth_error; 403 → auth_error unless the platform's `refine` says otherwise (YouTube
    quota, Reddit private subreddits); 404 and 410 → not_found; 429 → rate_limited; 408 and 504
    and client-side timeouts → timeout; any other failure → failed.
    """
    if isinstance(status, BaseException):
        return _classify_error(status)
    if refine is not None and (refined := refine(status, body)) is not None:
        return refined
    if 200 <= status < 300:
        return Outcome.SUCCESS
    match status:
        case 401 | 403:
            return Outcome.AUTH_ERROR
        case 404 | 410:
            return Outcome.NOT_FOUND
        case 429:
            return Outcome.RATE_LIMITED
        case 408 | 504:
            return Outcome.TIMEOUT
    return Outcome.FAILED


def _classify_error(error: BaseException) -> Outcome:
    if isinstance(error, DependencyTimeout | TimeoutError):
        return Outcome.TIMEOUT
    if isinstance(error, RateLimited):
        return Outcome.RATE_LIMITED
    if isinstance(error, AuthRejected):
        return Outcome.AUTH_ERROR
    if isinstance(error, NotFound):
        return Outcome.NOT_FOUND
    return Outcome.FAILED


def describe(reply: HttpReply) -> str:
    """A short, log-safe description of a failed reply: status plus the platform's message."""
    message = ""
    if isinstance(reply.body, Mapping):
        for key in ("message", "detail", "error_description", "error"):
            value = reply.body.get(key)
            if isinstance(value, Mapping):  # Google's envelope: {"error": {"code", "message", ...}}
                value = value.get("message")
            if isinstance(value, str) and value:
                message = value
                break
    elif isinstance(reply.body, str):
        message = reply.body.strip().splitlines()[0] if reply.body.strip() else ""
    return f"HTTP {reply.status}: {message[:200]}" if message else f"HTTP {reply.status}"


def error_for(reply: HttpReply, outcome: Outcome) -> SmaError:
    """The exception the resolve path raises for a reply `classify` did not call a success."""
    message = describe(reply)
    match outcome:
        case Outcome.AUTH_ERROR:
            return AuthRejected(message)
        case Outcome.NOT_FOUND:
            return NotFound(message)
        case Outcome.RATE_LIMITED:
            return RateLimited(message, retry_after=reply.retry_after)
        case Outcome.TIMEOUT:
            return DependencyTimeout(message)
    if 400 <= reply.status < 500:
        return UpstreamRejected(message)
    return UpstreamUnavailable(message)


def create_session(timeout_seconds: float, connection_limit: int) -> aiohttp.ClientSession:
    """A session with a total and a connect timeout and a bounded connection pool.

    Must be called inside the running event loop."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds, connect=min(timeout_seconds, 5.0)),
        connector=aiohttp.TCPConnector(limit=connection_limit, limit_per_host=connection_limit, ttl_dns_cache=300),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )


class _RetryableReply(Exception):
    def __init__(self, reply: HttpReply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


class _ConnectionFailed(UpstreamUnavailable):
    pass


class HttpClient:
    """One platform's HTTP client: a lazily created session plus bounded transient retries.

    The session is created on first use (inside the running event loop) and re-created after
    `close()`. Timeouts are not retried: each attempt may already have waited the full timeout.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_retries: int,
        rate_limit_format: RateLimitFormat | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        connection_limit: int = 32,
    ) -> None:
        self._timeout = timeout_seconds
        self._format = rate_limit_format
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._gate: CallGate | None = None
        self._scope = "default"
        self._policy = RetryPolicy(
            on=(_RetryableReply, _ConnectionFailed),
            max_attempts=max_retries + 1,
            max_elapsed=timeout_seconds * (max_retries + 1) + 4.0 * max_retries,
            base_delay=0.25,
            max_delay=4.0,
        )

    @classmethod
    def from_settings(
        cls,
        settings: PlatformSettings,
        rate_limit_format: RateLimitFormat | None,
        *,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> HttpClient:
        """The client every adapter uses: timeout and retries from the shared platform settings."""
        return cls(
            timeout_seconds=settings.platform_request_timeout_seconds,
            max_retries=settings.platform_max_retries,
            rate_limit_format=rate_limit_format,
            clock=clock,
            sleep=sleep,
        )

    def attach(self, gate: CallGate, scope: str) -> None:
        """Admit every API call from now on through `gate`, on the credential's `scope`."""
        self._gate, self._scope = gate, scope

    async def hold(self, until: float, reason: str, *, scope: str | None = None) -> None:
        """Stop calls on this credential (or `scope`) until `until`, for every replica."""
        if self._gate is not None:
            await self._gate.hold(scope or self._scope, until, reason)

    async def hold_for_auth(self, *, scope: str | None = None) -> None:
        """The platform rejected the credentials: stop calls for the configured hold period."""
        if self._gate is not None:
            await self._gate.hold_for_auth(scope or self._scope)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = create_session(self._timeout, self._connection_limit)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        log: CallLog | None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        scope: str | None = None,
    ) -> HttpReply:
        """Send one request, retrying 5xx and connection errors; returns the final reply.

        `log` counts the attempts as API calls, each admitted by the budget of `scope` (default:
        the credential's); pass None for token requests, which have budgets of their own.
        Raises `BudgetSpent` or `AuthHeld` (refused before calling), `DependencyTimeout`,
        `UpstreamUnavailable` (connection failed every time) or `ConfigurationError` (a base URL
        that is not a URL).
        """
        gated = (scope or self._scope) if log is not None and self._gate is not None else None
        attempt = partial(self._attempt, method, url, log, gated, params, headers, data)
        hint = [0.0]

        def remember_retry_after(exc: BaseException) -> None:
            retry_after = exc.reply.retry_after if isinstance(exc, _RetryableReply) else None
            hint[0] = retry_after or 0.0

        async def sleep(delay: float) -> None:
            await self._sleep(max(delay, hint[0]))

        what = f"{method} {urlsplit(url).netloc}{urlsplit(url).path}"
        try:
            return await self._policy.call(attempt, what=what, sleep=sleep, on_retry=remember_retry_after)
        except _RetryableReply as exc:
            return exc.reply

    async def _attempt(
        self,
        method: str,
        url: str,
        log: CallLog | None,
        scope: str | None,
        params: Params | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> HttpReply:
        if scope is not None:
            await self._gate.admit(scope)  # type: ignore[union-attr]
        if log is not None:
            log.api_calls += 1
        try:
            async with self._get_session().request(
                method, url, params=params, headers=headers, data=data
            ) as response:
                raw = await response.read()
                reply = self._reply(response.status, response.headers, raw)
        except TimeoutError as exc:
            raise DependencyTimeout(f"{method} {url}: no answer within {self._timeout:g}s") from exc
        except aiohttp.InvalidURL as exc:
            raise ConfigurationError(f"not a valid platform URL: {url}") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _ConnectionFailed(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if log is not None and reply.rate_limit is not None:
            log.note(reply.rate_limit)
        if scope is not None:
            await self._gate.observe(scope, reply.status, reply.rate_limit, reply.retry_after)  # type: ignore[union-attr]
        # A server asking for a long pause is answered now rather than waited for.
        long_pause = reply.retry_after is not None and reply.retry_after > self._policy.max_delay
        if reply.status >= 500 and not long_pause:
            raise _RetryableReply(reply)
        return reply

    def _reply(self, status: int, headers: Mapping[str, str], raw: bytes) -> HttpReply:
        now = self._clock.now()
        rate_limit = parse_rate_limit(headers, self._format, now) if self._format else None
        retry_after = parse_retry_after(headers, now)
        if retry_after is None and status == 429 and rate_limit is not None and rate_limit.reset_at:
            retry_after = max(0.0, (rate_limit.reset_at - now).total_seconds())
        return HttpReply(status, _decode(raw), rate_limit, retry_after)


def _decode(raw: bytes) -> object:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:2000].decode("utf-8", "replace")
