"""Frankfurter: ECB reference rates (weekdays only, no API key)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from app.sources.base import BadPayload, RawRate
from app.sources.http import get_json

NAME = "frankfurter"


def _rates(body: Any, base: str, day: str, rates: Any) -> list[RawRate]:
    if not isinstance(rates, dict):
        raise BadPayload("rates must be an object", source=NAME)
    return [RawRate(base, quote, day, str(value), NAME) for quote, value in rates.items()]


def parse_single(body: Any) -> list[RawRate]:
    """`/latest` or `/{date}`: {"amount", "base", "date", "rates": {quote: rate}}."""
    if not isinstance(body, dict) or not {"base", "date", "rates"} <= body.keys():
        raise BadPayload("expected base, date and rates", source=NAME)
    return _rates(body, str(body["base"]), str(body["date"]), body["rates"])


def parse_series(body: Any) -> list[RawRate]:
    """`/{start}..{end}`: {"base", "start_date", "end_date", "rates": {date: {quote: rate}}}."""
    if not isinstance(body, dict) or not {"base", "rates"} <= body.keys():
        raise BadPayload("expected base and rates", source=NAME)
    series = body["rates"]
    if not isinstance(series, dict):
        raise BadPayload("rates must be an object", source=NAME)
    base = str(body["base"])
    return [row for day, rates in series.items() for row in _rates(body, base, str(day), rates)]


class Frankfurter:
    name = NAME

    def __init__(self, *, base_url: str, client: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/")
        self._client = client

    async def _get(self, path: str, base: str, quotes: list[str]) -> Any:
        params = {"base": base, "symbols": ",".join(quotes)}
        return await get_json(self._client, f"{self._url}/{path}", params=params, source=NAME)

    async def fetch_latest(self, base: str, quotes: list[str]) -> list[RawRate]:
        return parse_single(await self._get("latest", base, quotes))

    async def fetch_rates(
        self, base: str, quotes: list[str], start: date, end: date
    ) -> list[RawRate]:
        if start == end:
            return parse_single(await self._get(start.isoformat(), base, quotes))
        body = await self._get(f"{start.isoformat()}..{end.isoformat()}", base, quotes)
        return parse_series(body)
