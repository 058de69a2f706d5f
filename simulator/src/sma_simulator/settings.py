"""The simulator's settings: its HTTP server, logging, and the simulated world's knobs.

Simulator-only fields carry a `simulator_` prefix (`SMA_SIMULATOR_SEED`, ...) so the stack can
export them next to the services' own `SMA_*` settings without ambiguity.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from sma_common.settings import HttpServerSettings, LoggingSettings


class SimulatorSettings(HttpServerSettings, LoggingSettings):
    http_port: int = Field(default=8090, ge=0, le=65535)
    simulator_seed: int = 1
    simulator_accounts_per_platform: int = Field(default=50, ge=0, le=100_000)
    # The app credentials the fake Twitch token endpoint accepts.
    simulator_twitch_client_id: str = "sma-demo-client"
    simulator_twitch_client_secret: SecretStr = SecretStr("sma-demo-secret")
    simulator_token_ttl_seconds: int = Field(default=14_400, ge=1)
    simulator_twitch_points_per_minute: int = Field(default=800, ge=1)
    # The API key the fake YouTube Data API accepts, and its daily quota in units (Pacific days).
    simulator_youtube_api_key: SecretStr = SecretStr("sma-demo-youtube-key")
    simulator_youtube_daily_quota: int = Field(default=10_000, ge=1)
    simulator_bluesky_rate_limit: int = Field(default=3_000, ge=1)
    simulator_bluesky_rate_window_seconds: int = Field(default=300, ge=1)
    # Mastodon's default API throttle, per instance and caller address: 300 requests per 5 minutes.
    simulator_mastodon_rate_limit: int = Field(default=300, ge=1)
    simulator_mastodon_rate_window_seconds: int = Field(default=300, ge=1)
    # The app-only bearer token the fake X API accepts, and its requests per 15-minute window.
    simulator_x_bearer_token: SecretStr = SecretStr("sma-demo-x-token")
    simulator_x_rate_limit: int = Field(default=300, ge=1)
    # The app credentials the fake Reddit token endpoint accepts (HTTP Basic), and its requests per 10 minutes.
    simulator_reddit_client_id: str = "sma-demo-reddit"
    simulator_reddit_client_secret: SecretStr = SecretStr("sma-demo-reddit-secret")
    simulator_reddit_rate_limit: int = Field(default=600, ge=1)
    # Observations kept per platform in the /_sim/ledger (oldest dropped first).
    simulator_ledger_size: int = Field(default=10_000, ge=0, le=1_000_000)
    # How long a `timeout` fault holds a response when the fault does not say.
    simulator_timeout_hold_seconds: float = Field(default=30.0, gt=0, le=600)
    # Real (wall-clock) delay added before every platform request is answered; not /_sim, /health, /metrics.
    simulator_latency_ms: float = Field(default=0.0, ge=0, le=10_000)
