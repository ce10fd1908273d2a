from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import MAGNIFICENT_SEVEN, SettingsError, get_settings, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings()
    assert settings.symbols == list(MAGNIFICENT_SEVEN)
    assert settings.currencies == ["USD", "GBP", "EUR", "JPY", "CHF", "CAD", "AUD"]
    assert settings.price_sources == ["simulated"]
    assert settings.fx_sources == ["simulated"]
    assert settings.is_sqlite and settings.migrate_on_start
    assert settings.quote_currencies == ["GBP", "EUR", "JPY", "CHF", "CAD", "AUD"]


def test_lists_from_environment_accept_commas_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKER_SYMBOLS", "AAPL, BRK.B,AAPL")
    monkeypatch.setenv("TICKER_CURRENCIES", '["EUR", "GBP"]')
    settings = load_settings()
    assert settings.symbols == ["AAPL", "BRK.B"]
    assert settings.currencies == ["USD", "EUR", "GBP"]  # the FX base is always present


def test_an_api_key_selects_real_providers_and_stays_secret() -> None:
    settings = load_settings(alphavantage_api_key="s3cr3t-key")
    assert settings.price_sources == ["alphavantage"]
    assert settings.fx_sources == ["alphavantage", "frankfurter"]
    assert "s3cr3t-key" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "variable", "fragment"),
    [
        ({"symbols": "aapl"}, "TICKER_SYMBOLS", "not ticker symbols"),
        ({"currencies": "USD,XYZ"}, "TICKER_CURRENCIES", "ISO 4217"),
        ({"prices_cron": "every day"}, "TICKER_PRICES_CRON", ""),
        ({"database_url": "mysql://x"}, "TICKER_DATABASE_URL", "sqlite"),
        ({"simulated_error_rate": 2}, "TICKER_SIMULATED_ERROR_RATE", "less than or equal"),
        ({"fx_sources": "simulated,frankfurter"}, "TICKER_FX_SOURCES", "cannot be chained"),
        ({"price_sources": "alphavantage"}, "TICKER_PRICE_SOURCES", "API_KEY"),
        ({"price_sources": "yahoo"}, "TICKER_PRICE_SOURCES", "unknown providers"),
    ],
)
def test_invalid_settings_name_the_variable(
    overrides: dict[str, object], variable: str, fragment: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith(variable), message
    assert fragment in message


def test_cli_refuses_to_start_with_a_readable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKER_SYMBOLS", "not a symbol")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["ingest", "--job", "prices"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "TICKER_SYMBOLS" in result.output
