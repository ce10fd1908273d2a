"""Shared request dependencies: the runtime, validated currencies, symbols and dates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine

from app.api.errors import ApiError
from app.config import Settings
from app.convert.rates import RateBook
from app.ingest.pipeline import Ingestor
from app.ingest.scheduler import IngestScheduler
from app.models import utc_now
from app.telemetry import Telemetry


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    ingestor: Ingestor
    scheduler: IngestScheduler | None
    rates: RateBook
    clock: Callable[[], datetime] = utc_now
    telemetry: Telemetry = field(default_factory=Telemetry.off)

    def __post_init__(self) -> None:
        known = self.settings.currencies
        self._currencies = {c: c for c in known} | {c.lower(): c for c in known}

    def today(self) -> date:
        return self.clock().date()

    def currency(self, code: str, *, field: str) -> str:
        """A supported currency code, upper-cased; a dict hit on the hot path."""
        found = self._currencies.get(code)
        return found if found is not None else currency_code(code, self.settings, field=field)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Dependencies are `async def` on purpose: they do no I/O, and FastAPI would run a plain
# `def` dependency in a worker thread on every request.
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_CODE = re.compile(r"^[A-Za-z]{3}$")
_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")


def _known(value: str, pattern: re.Pattern[str], known: list[str], *, what: str, field: str) -> str:
    """Codes are case-insensitive (normalised to upper case): malformed ones are a 422,
    well-formed but unknown ones a 404."""
    if not pattern.match(value):
        raise ApiError(422, f"invalid_{what}", f"{field}: {value!r} is not a valid {what} code")
    upper = value.upper()
    if upper not in known:
        raise ApiError(
            404,
            f"unknown_{what}",
            f"{field}: {upper} is not a supported {what}",
            details={"supported": known},
        )
    return upper


def currency_code(code: str, settings: Settings, *, field: str) -> str:
    return _known(code, _CODE, settings.currencies, what="currency", field=field)


def symbol_code(symbol: str, settings: Settings) -> str:
    return _known(symbol, _SYMBOL, settings.symbols, what="symbol", field="symbol")


def not_future(day: date | None, *, field: str, today: date) -> date | None:
    if day is not None and day > today:
        raise ApiError(422, "date_in_future", f"{field}: {day.isoformat()} is in the future")
    return day


async def _symbol(runtime: RuntimeDep, symbol: Annotated[str, Path(examples=["AAPL"])]) -> str:
    return symbol_code(symbol, runtime.settings)


async def _display_currency(
    runtime: RuntimeDep,
    currency: Annotated[
        str, Query(description="ISO 4217 code to show prices in", examples=["GBP"])
    ] = "USD",
) -> str:
    return currency_code(currency, runtime.settings, field="currency")


SymbolDep = Annotated[str, Depends(_symbol)]
CurrencyDep = Annotated[str, Depends(_display_currency)]
