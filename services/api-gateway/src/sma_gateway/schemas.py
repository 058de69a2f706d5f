"""Request and response models of the HTTP API: what clients send, and what they get back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sma_common.platforms import LIVE_PLATFORMS, METRIC_IDS, Platform

JobStatus = Literal["active", "paused"]
ExecutionStatus = Literal["success", "failed", "rate_limited", "auth_error", "not_found", "timeout"]
Resolution = Literal["raw", "hour", "day"]

MAX_INTERVAL_MINUTES = 10080
# Account ids are Postgres bigints: anything larger names no account and must not reach the driver.
AccountId = Annotated[int, Field(ge=1, le=2**63 - 1)]
# A `+` in an unencoded query string arrives as a space: "...T10:00:00 02:00" means "+02:00".
# Instants a client may name: wide enough for any real series, narrow enough that converting
# to UTC and handing the value to Postgres can never overflow (year 1 with an offset would).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """UTC-aware (a naive time is read as UTC) and within [EARLIEST, LATEST], else ValueError."""
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date out of range") from None
    if not EARLIEST <= aware <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return aware


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]

_SPACE_BEFORE_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")
# An instant in a query string: an ISO 8601 date or date-time, with an offset or without (then
# UTC). Checked before pydantic parses it, which would also read "5" as a Unix time; the same
# pattern is the parameter's schema in the OpenAPI document, so both say the same thing.
QUERY_DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
_QUERY_DATETIME = re.compile(QUERY_DATETIME_PATTERN)


def _query_instant(value: object) -> object:
    if not isinstance(value, str):
        return value
    value = _SPACE_BEFORE_OFFSET.sub(r"\1+\2", value)
    if _QUERY_DATETIME.fullmatch(value) is None:
        raise ValueError("not an ISO 8601 date-time such as 2026-01-01T00:00:00Z")
    return value


QueryDatetime = Annotated[
    datetime, BeforeValidator(_query_instant), AfterValidator(to_utc),
    WithJsonSchema({"type": "string", "pattern": QUERY_DATETIME_PATTERN,
                    "description": "ISO 8601 date or date-time; without an offset it is UTC"}),
]
# Metric names as the OpenAPI document lists them (validated by the models that take one).
_METRIC_NAMES = Field(json_schema_extra={"enum": list(METRIC_IDS)})


def _no_nul(value: object) -> object:
    # Postgres text cannot hold U+0000: refuse it as the client's mistake (422) here rather than
    # let the driver fail with a 500 when the value reaches a query.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


class _Body(BaseModel):
    """A JSON request body: unknown fields are an error, numbers must be numbers, text has no NUL.
    Text is taken as sent (no stripping), so a length the document states is the length checked;
    the platform parsers trim an account reference themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _text_has_no_nul = field_validator("*", mode="before")(_no_nul)


class _Query(BaseModel):
    """Query-string parameters: unknown ones are ignored, values arrive as strings (never with NUL),
    taken as sent like bodies."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    _text_has_no_nul = field_validator("*", mode="before")(_no_nul)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- requests ----------------------------------------------------------------------------------
_LIVE_INTERVAL = (
    "adaptive polling: the interval while the account is live (Twitch only; shorter than interval_minutes; "
    "null for none). Live calls spend the same platform budget."
)


class JobCreate(_Body):
    platform: Platform
    # Length and pattern apply to the text as sent (what the document states); then it is trimmed.
    account: Annotated[str, AfterValidator(str.strip)] = Field(
        min_length=1, max_length=512, pattern=r"\S", description="handle, profile URL or platform id")
    interval_minutes: int = Field(default=15, ge=1, le=MAX_INTERVAL_MINUTES, strict=True)
    live_interval_minutes: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_MINUTES, strict=True,
                                              description=_LIVE_INTERVAL)

    @model_validator(mode="after")
    def _live_interval_fits(self) -> Self:
        if self.live_interval_minutes is not None:
            if self.platform not in LIVE_PLATFORMS:
                raise ValueError(f"live_interval_minutes applies to {', '.join(sorted(LIVE_PLATFORMS))} only")
            if self.live_interval_minutes >= self.interval_minutes:
                raise ValueError("live_interval_minutes must be shorter than interval_minutes")
        return self


class JobUpdate(_Body):
    """PUT and PATCH body: any subset of the changeable fields, at least one."""

    interval_minutes: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_MINUTES, strict=True)
    status: JobStatus | None = None
    live_interval_minutes: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_MINUTES, strict=True,
                                              description=_LIVE_INTERVAL + " Send null to remove it.")

    @property
    def sets_live_interval(self) -> bool:
        return "live_interval_minutes" in self.model_fields_set

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.interval_minutes is None and self.status is None and not self.sets_live_interval:
            raise ValueError("set at least one of interval_minutes, status, live_interval_minutes")
        return self


class PageQuery(_Query):
    limit: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, min_length=1, max_length=512)


class JobListQuery(PageQuery):
    platform: Platform | None = None
    status: JobStatus | None = None
    account_id: AccountId | None = None


class JobBulkQuery(_Query):
    """Which jobs a bulk change applies to. A change of every job must be explicit: name a
    `platform` or an `account_id` (`status` only narrows), or send `all=true`."""

    platform: Platform | None = None
    status: JobStatus | None = None
    account_id: AccountId | None = None
    all: bool = False

    @model_validator(mode="after")
    def _filtered_or_explicit(self) -> Self:
        if self.platform is None and self.account_id is None and not self.all:
            raise ValueError("name the jobs to change with platform or account_id, or send all=true")
        return self


class ExecutionListQuery(PageQuery):
    status: ExecutionStatus | None = None


class AccountListQuery(PageQuery):
    platform: Platform | None = None


class MetricsQuery(_Query):
    metric: Annotated[str, _METRIC_NAMES]
    start: QueryDatetime | None = Field(default=None, alias="from")
    end: QueryDatetime | None = Field(default=None, alias="to")
    resolution: Resolution = "raw"
    limit: int | None = Field(default=None, ge=1)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRIC_IDS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRIC_IDS)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


# -- responses ---------------------------------------------------------------------------------
class JobOut(_Response):
    id: UUID
    account_id: int
    platform: Platform
    handle: str
    display_name: str | None
    external_id: str
    interval_minutes: int
    live_interval_minutes: int | None = None
    is_live: bool = False
    status: JobStatus
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: ExecutionStatus | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class BulkJobResult(_Response):
    """A bulk change: how many jobs the filters matched, and how many of them actually changed."""

    matched: int
    changed: int


class ExecutionOut(_Response):
    id: UUID
    job_id: UUID
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime
    status: ExecutionStatus
    error: str | None
    api_calls: int
    points_written: int
    collector_instance: str | None


class AccountOut(_Response):
    id: int
    platform: Platform
    external_id: str
    handle: str
    display_name: str | None
    job_id: UUID | None
    created_at: datetime
    updated_at: datetime


# The platform reports the figure rounded (`sma_common.platforms.ROUNDED_METRICS`), e.g. YouTube subscribers.
Rounded = Annotated[bool, Field(description="true when the platform itself rounds this figure")]


class LatestValue(_Response):
    ts: datetime
    value: float
    rounded: Rounded


class AccountDetail(AccountOut):
    latest: dict[str, LatestValue]


class MetricPoint(_Response):
    ts: datetime
    value: float
    rounded: Rounded


class MetricBucket(MetricPoint):
    """One hour or day; `value` is the bucket's last value."""

    min: float
    max: float
    first: float
    last: float
    count: int


PlatformStatus = Literal["ok", "rate_limited", "auth_error", "unconfigured", "unknown"]


class BudgetOut(_Response):
    """The platform's shared budget (every collector replica spends from it)."""

    kind: Literal["token_bucket", "fixed_window"]
    limit: float = Field(description="calls (YouTube: quota units) per window")
    window_seconds: float
    remaining: float | None = Field(default=None, description="left now; absent when unknown")
    resets_at: datetime | None = Field(default=None, description="end of the current window (fixed windows)")


class HoldOut(_Response):
    """Calls stopped until `until`: after a 429 (`rate_limited`), a spent quota (`quota`) or
    rejected credentials (`auth_error`). `scope` names the instance on per-instance platforms."""

    scope: str | None = None
    until: datetime
    reason: str


class PlatformOut(_Response):
    platform: Platform
    configured: bool
    status: PlatformStatus = Field(
        description="ok; rate_limited or auth_error while the credential is on hold; unconfigured; unknown "
        "when the shared state (Redis) cannot be read"
    )
    budget: BudgetOut
    holds: list[HoldOut] = Field(default_factory=list)


# -- output formats (lists and series) ---------------------------------------------------------
OutputFormat = Literal["json", "csv"]


class FormatQuery(_Query):
    """`?format=`: lists and series come as JSON (default) or CSV; `Accept: text/csv` also picks CSV."""

    format: OutputFormat | None = None


# -- analytics: summary and leaderboard --------------------------------------------------------
def _known_metric_name(value: str) -> str:
    if value not in METRIC_IDS:
        raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRIC_IDS)}")
    return value


MetricName = Annotated[str, AfterValidator(_known_metric_name), _METRIC_NAMES]
LeaderboardPeriod = Literal["day", "week", "month"]
Gain = Annotated[float | None, Field(description="latest value minus the value at or before N days ago; "
                                                 "null when there is no value that old")]
GrowthRate = Annotated[float | None, Field(description="gain / the value N days ago; null when that value "
                                                       "is 0 or missing")]


class MetricSummary(_Response):
    """One metric of an account: its latest value and its gains over 1, 7 and 30 days."""

    metric: str
    ts: datetime
    value: float
    rounded: Rounded
    gain_1d: Gain = None
    growth_rate_1d: GrowthRate = None
    gain_7d: Gain = None
    growth_rate_7d: GrowthRate = None
    gain_30d: Gain = None
    growth_rate_30d: GrowthRate = None


class AccountSummary(_Response):
    account_id: int
    platform: Platform
    handle: str
    display_name: str | None
    as_of: datetime = Field(description="the moment the gains are measured back from")
    metrics: list[MetricSummary] = Field(description="one entry per metric the account has values for")


class LeaderboardQuery(FormatQuery):
    metric: MetricName
    period: LeaderboardPeriod = "week"
    platform: Platform | None = None
    limit: int | None = Field(default=None, ge=1)


class LeaderboardEntry(_Response):
    """One tracked account's gain in the metric over the period: `end_value` is its latest value,
    `start_value` its value at or before the period's start."""

    rank: int
    account_id: int
    platform: Platform
    handle: str
    display_name: str | None
    start_ts: datetime
    start_value: float
    end_ts: datetime
    end_value: float
    gain: float
    growth_rate: GrowthRate
    rounded: Rounded


# -- API keys (admin) ---------------------------------------------------------------------------
KeyScope = Literal["read", "write", "admin"]


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S", description="who or what uses the key")
    scopes: list[KeyScope] = Field(
        default_factory=lambda: list[KeyScope](["read"]), min_length=1, max_length=3,
        description="admin implies write, write implies read",
    )


class KeyOut(_Response):
    """An API key as listed: never its secret or the secret's hash."""

    id: int
    name: str
    prefix: str = Field(description="the public part of the token, `sma_<prefix>_...`")
    scopes: list[KeyScope]
    created_at: datetime
    last_used_at: datetime | None = Field(description="updated at most once a minute")
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    token: str = Field(description="the whole key: shown once, in this response only")
