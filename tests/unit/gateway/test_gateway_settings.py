import pytest
from pydantic import ValidationError

from sma_gateway.settings import GatewaySettings


def test_defaults() -> None:
    settings = GatewaySettings()
    assert settings.http_port == 8080
    assert settings.max_request_body_bytes == 64 * 1024
    assert settings.page_limit_default <= settings.page_limit_max
    assert 0 < settings.cache_metrics_ttl_seconds <= 60


def test_flat_sma_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMA_CACHE_METRICS_TTL_SECONDS", "12.5")
    monkeypatch.setenv("SMA_PAGE_LIMIT_MAX", "100")
    monkeypatch.setenv("SMA_DATABASE_URL", "postgresql://db.internal/sma")
    settings = GatewaySettings()
    assert settings.cache_metrics_ttl_seconds == 12.5
    assert settings.page_limit_max == 100
    assert settings.database_url.get_secret_value() == "postgresql://db.internal/sma"


def test_default_page_must_fit_the_maximum() -> None:
    with pytest.raises(ValidationError, match="page_limit_default"):
        GatewaySettings(page_limit_default=600, page_limit_max=500)
