"""The CLI reads the same `SMA_*` settings as the services."""

from __future__ import annotations

from sma_common.settings import DatabaseSettings


class CliSettings(DatabaseSettings):
    pass
