"""Alpha Vantage: TIME_SERIES_DAILY, GLOBAL_QUOTE, FX_DAILY and CURRENCY_EXCHANGE_RATE.

Alpha Vantage answers HTTP 200 for most failures; `classify` reads the body's `Note`,
`Information` and `Error Message` texts and raises the matching error of our taxonomy.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from app.market_calendar import utc_today
from app.sources.base import (
    AuthFailed,
    BadPayload,
    ConfigurationError,
    QuotaExhausted,
    RawBar,
    RawRate,
    Throttled,
    UnknownSymbol,
)
from app.sources.http import get_json

NAME = "alphavantage"
COMPACT_POINTS = 100  # outputsize=compact returns the latest 100 data points


def classify(body: Any) -> None:
    """Raise the SourceError an Alpha Vantage body stands for; return if it carries data."""
    if not isinstance(body, dict):
        raise BadPayload("expected a JSON object", source=NAME)
    message = body.get("Error Message")
    if message is not None:
        text = str(message).lower()
        if "apikey" in text or "api key" in text:
            raise AuthFailed(str(message), source=NAME)
        raise UnknownSymbol(str(message), source=NAME)
    for key in ("Note", "Information"):
        if key not in body:
            continue
        message = str(body[key])
        text = message.lower()
        if "apikey" in text and ("invalid" in text or "missing" in text):
            raise AuthFailed(message, source=NAME)
        if "premium endpoint" in text:
            raise ConfigurationError(message, source=NAME)
        if any(
            w in text
            for w in ("call frequency", "per minute", "per second", "burst", "spreading out")
        ):
            raise Throttled(message, source=NAME, retry_after=60.0)
        if "per day" in text or "daily" in text:
            raise QuotaExhausted(message, source=NAME)
        raise Throttled(message, source=NAME, retry_after=60.0)


def _section(body: Any, key: str) -> dict[str, Any]:
    classify(body)
    section = body.get(key)
    if not isinstance(section, dict):
        raise BadPayload(f"missing {key!r}", source=NAME)
    return section


def _field(row: Any, key: str) -> str:
    if not isinstance(row, dict) or key not in row:
        raise BadPayload(f"missing field {key!r}", source=NAME)
    return str(row[key])


def parse_daily_series(body: Any, symbol: str, start: date, end: date) -> list[RawBar]:
    series = _section(body, "Time Series (Daily)")
    lo, hi = start.isoformat(), end.isoformat()
    return [
        RawBar(
            symbol,
            day,
            _field(row, "1. open"),
            _field(row, "2. high"),
            _field(row, "3. low"),
            _field(row, "4. close"),
            _field(row, "5. volume"),
            NAME,
        )
        for day, row in series.items()
        if lo <= day <= hi
    ]


def parse_global_quote(body: Any, symbol: str) -> RawBar:
    quote = _section(body, "Global Quote")
    if not quote:
        raise UnknownSymbol(f"no quote for {symbol}", source=NAME)
    return RawBar(
        symbol,
        _field(quote, "07. latest trading day"),
        _field(quote, "02. open"),
        _field(quote, "03. high"),
        _field(quote, "04. low"),
        _field(quote, "05. price"),
        _field(quote, "06. volume"),
        NAME,
    )


def parse_fx_daily(body: Any, base: str, quote: str, start: date, end: date) -> list[RawRate]:
    series = _section(body, "Time Series FX (Daily)")
    lo, hi = start.isoformat(), end.isoformat()
    return [
        RawRate(base, quote, day, _field(row, "4. close"), NAME)
        for day, row in series.items()
        if lo <= day <= hi
    ]


def parse_exchange_rate(body: Any) -> RawRate:
    section = _section(body, "Realtime Currency Exchange Rate")
    refreshed = _field(section, "6. Last Refreshed")
    return RawRate(
        _field(section, "1. From_Currency Code"),
        _field(section, "3. To_Currency Code"),
        refreshed[:10],
        _field(section, "5. Exchange Rate"),
        NAME,
    )


class AlphaVantage:
    """PriceSource and FxSource backed by the Alpha Vantage REST API."""

    name = NAME

    def __init__(self, *, api_key: SecretStr, base_url: str, client: httpx.AsyncClient) -> None:
        self._key = api_key
        self._url = base_url
        self._client = client

    async def _query(self, function: str, **params: str) -> Any:
        query = {"function": function, **params, "apikey": self._key.get_secret_value()}
        return await get_json(self._client, self._url, params=query, source=NAME)

    @staticmethod
    def _outputsize(start: date) -> str:
        # compact holds the latest 100 trading days; ~145 calendar days is a safe bound.
        return "compact" if start >= utc_today() - timedelta(days=140) else "full"

    async def fetch_bars(self, symbol: str, start: date, end: date) -> list[RawBar]:
        body = await self._query(
            "TIME_SERIES_DAILY", symbol=symbol, outputsize=self._outputsize(start)
        )
        return parse_daily_series(body, symbol, start, end)

    async def fetch_quote(self, symbol: str) -> RawBar:
        return parse_global_quote(await self._query("GLOBAL_QUOTE", symbol=symbol), symbol)

    async def fetch_rates(
        self, base: str, quotes: list[str], start: date, end: date
    ) -> list[RawRate]:
        out: list[RawRate] = []
        for quote in quotes:
            body = await self._query(
                "FX_DAILY",
                from_symbol=base,
                to_symbol=quote,
                outputsize=self._outputsize(start),
            )
            out.extend(parse_fx_daily(body, base, quote, start, end))
        return out

    async def fetch_exchange_rate(self, base: str, quote: str) -> RawRate:
        body = await self._query("CURRENCY_EXCHANGE_RATE", from_currency=base, to_currency=quote)
        return parse_exchange_rate(body)
