from pathlib import Path

import pytest
from pydantic import ValidationError

from sma_common.settings import DatabaseSettings, PlatformSettings


class Settings(DatabaseSettings, PlatformSettings):
    pass


def test_env_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMA_TWITCH_CLIENT_ID", "abc")
    settings = Settings()
    assert settings.twitch_client_id == "abc"
    assert settings.twitch_client_secret is None
    assert settings.bluesky_api_base == "https://public.api.bsky.app/xrpc"
    assert settings.mastodon_api_base == "https://{instance}"


def test_secrets_come_from_files_and_never_print(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    monkeypatch.setenv("SMA_TWITCH_CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("SMA_DATABASE_URL_FILE", str(secret))
    settings = Settings()
    assert settings.twitch_client_secret is not None
    assert settings.twitch_client_secret.get_secret_value() == "s3cr3t-value"
    assert settings.database_url.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())


def test_explicit_values_beat_files_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file")
    monkeypatch.setenv("SMA_YOUTUBE_API_KEY_FILE", str(secret))
    assert Settings(youtube_api_key="explicit").youtube_api_key.get_secret_value() == "explicit"  # type: ignore[union-attr]


def test_unreadable_secret_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMA_X_BEARER_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="SMA_X_BEARER_TOKEN_FILE"):
        Settings()


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMA_DATABASE_POOL_MAX_SIZE", "0")
    with pytest.raises(ValidationError, match="database_pool_max_size"):
        Settings()
