"""Typed records between the parse step and storage, and the parse step itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from app.sources.base import RawBar, RawRate

Kind = Literal["bar", "fx"]


class Bar(NamedTuple):
    """One parsed daily bar. A NamedTuple of atomic values: cheap to build by the hundred
    thousand, and untracked by the cyclic garbage collector once it has been seen."""

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


class Rate(NamedTuple):
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


def parse_bars(raw: list[RawBar]) -> tuple[list[Bar], list[Finding]]:
    """Typed bars from provider strings; rows that do not parse are quarantined."""
    bars: list[Bar] = []
    bad: list[Finding] = []
    number, new, days = Decimal, tuple.__new__, _Days()
    for row in raw:
        try:
            o = number(row.open)  # one by one: a packed tuple per row would feed the GC
            h = number(row.high)
            lo = number(row.low)
            c = number(row.close)
            v = number(row.volume)
            finite = o.is_finite() and h.is_finite() and lo.is_finite() and c.is_finite()
            if not (finite and v.is_finite()):
                raise InvalidOperation("not a finite number")
            # tuple.__new__ skips the NamedTuple's Python-level __new__ (all fields given).
            bars.append(new(Bar, (row.symbol, days[row.day], o, h, lo, c, v, row.source, False)))
        except (ValueError, ArithmeticError) as error:
            bad.append(_unparseable("bar", f"{row.symbol} {row.day}", row, error))
    return bars, bad


class _Days(dict[str, date]):
    """ISO day -> date, parsed once per distinct day (a batch holds a few dozen)."""

    def __missing__(self, text: str) -> date:
        day = self[text] = date.fromisoformat(text)
        return day


def parse_rates(raw: list[RawRate]) -> tuple[list[Rate], list[Finding]]:
    rates: list[Rate] = []
    bad: list[Finding] = []
    for row in raw:
        try:
            value = Decimal(row.rate)
            if not value.is_finite():
                raise InvalidOperation("not a finite number")
            rates.append(Rate(row.base, row.quote, date.fromisoformat(row.day), value, row.source))
        except (ValueError, ArithmeticError) as error:
            bad.append(_unparseable("fx", f"{row.base}/{row.quote} {row.day}", row, error))
    return rates, bad


def _unparseable(kind: Kind, key: str, row: RawBar | RawRate, error: Exception) -> Finding:
    return Finding(kind, "parseable", key, row._asdict(), detail=f"{type(error).__name__}: {error}")
