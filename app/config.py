"""Settings: one `Settings` object, read from `TICKER_*` variables (and `.env`)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from babel.numbers import list_currencies
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TICKER_"
MAGNIFICENT_SEVEN = ("AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA")
DEFAULT_CURRENCIES = ("USD", "GBP", "EUR", "JPY", "CHF", "CAD", "AUD")

PRICE_PROVIDERS = frozenset({"simulated", "alphavantage"})
FX_PROVIDERS = frozenset({"simulated", "alphavantage", "frankfurter"})
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
_ISO_4217 = frozenset(c for c in list_currencies() if re.fullmatch(r"[A-Z]{3}", c))

CommaList = Annotated[list[str], NoDecode]


class SettingsError(ValueError):
    """Invalid configuration; the message names the environment variable(s) at fault."""


def _split(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            import json

            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the service reads from its environment. See README, "Configuration"."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    environment: str = "development"
    database_url: str = "sqlite:///./var/ticker.db"
    auto_migrate: bool | None = None  # None: migrate automatically for SQLite only
    redis_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # Prometheus metrics and /metrics; tracing follows the standard OTEL_* variables.
    metrics_enabled: bool = True
    freshness_refresh_seconds: float = Field(60.0, gt=0)

    symbols: CommaList = Field(default_factory=lambda: list(MAGNIFICENT_SEVEN))
    currencies: CommaList = Field(default_factory=lambda: list(DEFAULT_CURRENCIES))
    fx_base: str = "USD"

    # Provider order per kind; empty means "the default for this configuration".
    price_sources: CommaList = Field(default_factory=list)
    fx_sources: CommaList = Field(default_factory=list)

    alphavantage_api_key: SecretStr | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co/query"
    alphavantage_calls_per_minute: int = Field(5, ge=1)
    alphavantage_calls_per_day: int = Field(25, ge=1)
    frankfurter_base_url: str = "https://api.frankfurter.dev/v1"

    source_timeout_seconds: float = Field(10.0, gt=0)
    source_retries: int = Field(3, ge=0, le=10)
    source_backoff_seconds: float = Field(0.5, ge=0)
    source_max_backoff_seconds: float = Field(30.0, ge=0)
    breaker_failure_threshold: int = Field(5, ge=1)
    breaker_cooldown_seconds: float = Field(60.0, ge=0)

    simulated_seed: int = 7
    simulated_error_rate: float = Field(0.0, ge=0, le=1)
    simulated_throttle_rate: float = Field(0.0, ge=0, le=1)
    simulated_latency_seconds: float = Field(0.0, ge=0)
    simulated_stale_days: int = Field(0, ge=0)
    simulated_invalid_bar_rate: float = Field(0.0, ge=0, le=1)

    scheduler_enabled: bool = True
    prices_cron: str = "30 22 * * mon-fri"  # UTC: after the US close (16:00 ET) in any season
    fx_cron: str = "30 16 * * mon-fri"  # UTC: after the ECB reference rates (~16:00 CET)
    catch_up_on_start: bool = True
    initial_backfill_days: int = Field(90, ge=0)
    leader_retry_seconds: float = Field(15.0, gt=0)

    max_rate_age_days: int = Field(5, ge=0)  # older as-of rates are refused, not guessed
    ingest_batch_rows: int = Field(20_000, ge=1)
    ingest_concurrency: int = Field(16, ge=1)

    @field_validator("symbols", "currencies", "price_sources", "fx_sources", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SYMBOL.match(s)]
        if bad:
            raise ValueError(f"not ticker symbols (upper case, e.g. AAPL, BRK.B): {bad}")
        if not value:
            raise ValueError("at least one symbol is required")
        return list(dict.fromkeys(value))

    @field_validator("currencies")
    @classmethod
    def _check_currencies(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if c not in _ISO_4217]
        if bad:
            raise ValueError(f"not ISO 4217 currency codes (upper case): {bad}")
        return list(dict.fromkeys(value))

    @field_validator("fx_base")
    @classmethod
    def _check_base(cls, value: str) -> str:
        if value not in _ISO_4217:
            raise ValueError(f"not an ISO 4217 currency code: {value!r}")
        return value

    @field_validator("prices_cron", "fx_cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        CronTrigger.from_crontab(value, timezone="UTC")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _resolve_sources(self) -> Settings:
        key = self.alphavantage_api_key is not None
        if not self.price_sources:
            self.price_sources = ["alphavantage"] if key else ["simulated"]
        if not self.fx_sources:
            self.fx_sources = ["alphavantage", "frankfurter"] if key else ["simulated"]
        if self.fx_base not in self.currencies:
            self.currencies = [self.fx_base, *self.currencies]
        for name, chain, known in (
            ("price_sources", self.price_sources, PRICE_PROVIDERS),
            ("fx_sources", self.fx_sources, FX_PROVIDERS),
        ):
            unknown = [p for p in chain if p not in known]
            if unknown:
                raise ValueError(f"{name}: unknown providers {unknown}; known: {sorted(known)}")
            if "simulated" in chain and len(chain) > 1:
                raise ValueError(
                    f"{name}: the simulated market cannot be chained with real providers "
                    "(invented prices must never fill in for real data)"
                )
            if "alphavantage" in chain and not key:
                raise ValueError(f"{name}: alphavantage needs TICKER_ALPHAVANTAGE_API_KEY")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def quote_currencies(self) -> list[str]:
        return [c for c in self.currencies if c != self.fx_base]

    def secrets(self) -> list[str]:
        """Values that must never appear in logs or traces."""
        found = [self.alphavantage_api_key.get_secret_value()] if self.alphavantage_api_key else []
        for url in (self.database_url, self.redis_url):
            password = urlsplit(url).password if url else None
            if password:
                found.append(password)
        return found


def describe_error(error: ValidationError) -> str:
    """Turn a ValidationError into lines that name the environment variable at fault."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        if field:
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        else:  # model-level checks name their field at the start of the message
            head, _, rest = message.partition(": ")
            variable = f"{ENV_PREFIX}{head.upper()}" if rest else ENV_PREFIX + "*"
            lines.append(f"{variable}: {rest or message}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; raise SettingsError with variable names instead of a pydantic dump."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
