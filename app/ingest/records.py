"""Typed records between the parse step and storage, and the parse step itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from app.sources.base import RawBar, RawRate

Kind = Literal["bar", "fx"]


@dataclass(slots=True)
class Bar:
    symbol: str
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # checked to be a non-negative integer by the quality rules
    source: str
    suspicious: bool = False

    @property
    def key(self) -> str:
        return f"{self.symbol} {self.day.isoformat()}"


@dataclass(slots=True)
class Rate:
    base: str
    quote: str
    day: date
    rate: Decimal
    source: str

    @property
    def key(self) -> str:
        return f"{self.base}/{self.quote} {self.day.isoformat()}"


@dataclass(slots=True)
class Finding:
    """A row that broke a rule: quarantined ('rejected') or kept and reported ('warning')."""

    kind: Kind
    rule: str
    key: str
    payload: dict[str, Any]
    severity: Literal["rejected", "warning"] = "rejected"
    detail: str = field(default="")


def _number(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def parse_bars(raw: list[RawBar]) -> tuple[list[Bar], list[Finding]]:
    """Typed bars from provider strings; rows that do not parse are quarantined."""
    bars: list[Bar] = []
    bad: list[Finding] = []
    for row in raw:
        try:
            bars.append(
                Bar(
                    row.symbol,
                    date.fromisoformat(row.day),
                    _number(row.open),
                    _number(row.high),
                    _number(row.low),
                    _number(row.close),
                    _number(row.volume),
                    row.source,
                )
            )
        except (ValueError, ArithmeticError) as error:
            bad.append(_unparseable("bar", f"{row.symbol} {row.day}", row, error))
    return bars, bad


def parse_rates(raw: list[RawRate]) -> tuple[list[Rate], list[Finding]]:
    rates: list[Rate] = []
    bad: list[Finding] = []
    for row in raw:
        try:
            rates.append(
                Rate(
                    row.base, row.quote, date.fromisoformat(row.day), _number(row.rate), row.source
                )
            )
        except (ValueError, ArithmeticError) as error:
            bad.append(_unparseable("fx", f"{row.base}/{row.quote} {row.day}", row, error))
    return rates, bad


def _unparseable(kind: Kind, key: str, row: RawBar | RawRate, error: Exception) -> Finding:
    return Finding(kind, "parseable", key, asdict(row), detail=f"{type(error).__name__}: {error}")
