"""Shared settings pieces: one field group per concern, composed by each service's Settings.

Every service builds one flat `SMA_*` settings model by inheriting the groups it needs
(ARCHITECTURE.md fixes flat names such as `SMA_DATABASE_URL`, so groups are mixins, not
nested models). Every secret may also come from a file named by `SMA_<NAME>_FILE`, the
way Kubernetes mounts Secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "SMA_"


class SecretFilesSource(PydanticBaseSettingsSource):
    """Reads `SMA_<FIELD>_FILE` for every `SecretStr` field: the file's content, stripped."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field.annotation not in (SecretStr, SecretStr | None):
            return None, field_name, False
        path = os.environ.get(f"{ENV_PREFIX}{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().strip(), field_name, False
        except OSError as exc:
            raise ValueError(f"{ENV_PREFIX}{field_name.upper()}_FILE={path}: cannot read ({exc.strerror})") from exc

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class SmaSettings(BaseSettings):
    """Base of every settings model: `SMA_` prefix, secrets from files, unknown keys ignored."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit values win, then a secret's *_FILE, then plain env vars.
        return (init_settings, SecretFilesSource(settings_cls), env_settings)


class LoggingSettings(SmaSettings):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console", "auto"] = "auto"


class HttpServerSettings(SmaSettings):
    """The service's own HTTP server (health and metrics; the API too for the gateway)."""

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    instance: str = Field(default_factory=lambda: os.environ.get("HOSTNAME", "") or f"pid-{os.getpid()}")
    drain_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    # After SIGTERM, keep serving (readiness already 503) this long so the load balancer can
    # take the pod out of rotation before connections are refused. 5 s suits Kubernetes.
    shutdown_delay_seconds: float = Field(default=0.0, ge=0, le=120)


class DatabaseSettings(SmaSettings):
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:55432/sma")
    database_pool_min_size: int = Field(default=1, ge=0, le=100)
    database_pool_max_size: int = Field(default=10, ge=1, le=200)
    database_statement_timeout_ms: int = Field(default=30_000, ge=100)
    database_connect_timeout_seconds: float = Field(default=30.0, gt=0)


class RedisSettings(SmaSettings):
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:56379/0")
    redis_key_prefix: str = "sma:"
    redis_socket_timeout_seconds: float = Field(default=0.25, gt=0)


class KafkaSettings(SmaSettings):
    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    kafka_commands_topic: str = "sma.fetch-commands"
    kafka_dlq_topic: str = "sma.fetch-commands.dlq"
    kafka_topic_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=7)
    # Off for the embedded broker (Tansu does not support it); on for Apache Kafka.
    # Correctness never depends on it: every write downstream is idempotent.
    kafka_enable_idempotence: bool = False
    kafka_consumer_group: str = "sma-collectors"
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=5000)
    # How long a silent consumer keeps its partitions. Lower means faster failover after a crash
    # (and, on the embedded broker, a faster first join, which takes about half of it).
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    kafka_connect_timeout_seconds: float = Field(default=30.0, gt=0)


class PlatformSettings(SmaSettings):
    """Platform API bases and credentials; a platform without credentials is `unconfigured`."""

    twitch_api_base: str = "https://api.twitch.tv/helix"
    twitch_auth_base: str = "https://id.twitch.tv"
    twitch_client_id: str | None = None
    twitch_client_secret: SecretStr | None = None
    youtube_api_base: str = "https://www.googleapis.com/youtube/v3"
    youtube_api_key: SecretStr | None = None
    x_api_base: str = "https://api.x.com/2"
    x_bearer_token: SecretStr | None = None
    reddit_api_base: str = "https://oauth.reddit.com"
    reddit_auth_base: str = "https://www.reddit.com"
    reddit_client_id: str | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_user_agent: str | None = None
    bluesky_api_base: str = "https://public.api.bsky.app/xrpc"
    mastodon_api_base: str = "https://{instance}"
    platform_request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    platform_max_retries: int = Field(default=2, ge=0, le=10)
    # The documented budgets (docs/PLATFORMS.md), shared by every replica through Redis. Raise
    # one for a higher paid tier; the window is the platform's and not configurable.
    twitch_rate_limit_per_minute: int = Field(default=800, ge=1)
    youtube_daily_quota_units: int = Field(default=10_000, ge=1)
    x_rate_limit_per_15_minutes: int = Field(default=300, ge=1)
    reddit_rate_limit_per_10_minutes: int = Field(default=600, ge=1)
    bluesky_rate_limit_per_5_minutes: int = Field(default=3_000, ge=1)
    mastodon_rate_limit_per_5_minutes: int = Field(default=300, ge=1)
    # A call waits this long at most for the budget to refill; past it the batch ends
    # `rate_limited` (without a call) and the jobs wait for the platform's reset.
    platform_budget_max_wait_seconds: float = Field(default=30.0, ge=0, le=600)
    # After the platform rejected our credentials, calls stop this long (every replica) before
    # one is tried again: bad credentials are not fixed by asking again each second.
    platform_auth_error_hold_seconds: float = Field(default=300.0, ge=0, le=86_400)
