"""The rate book: every stored FX rate in memory, looked up as-of a day.

The rate for day D is the latest stored rate dated on or before D. Pairs resolve directly,
inverted, or across a pivot currency (any base that has rates to both sides, USD first):
GBP->JPY = USD->JPY / USD->GBP. The book is loaded at start-up and reloaded when ingestion
publishes new rates, so a conversion never queries the database.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, select

from app.models import fx_rate

ONE = Decimal(1)


class RateError(LookupError):
    """No usable rate; `code` is the API error code."""

    code = "rate_unavailable"


class NoRate(RateError):
    code = "rate_unavailable"


class StaleRate(RateError):
    code = "rate_too_old"

    def __init__(self, message: str, *, rate_date: date, age_days: int) -> None:
        super().__init__(message)
        self.rate_date, self.age_days = rate_date, age_days


@dataclass(frozen=True, slots=True)
class Quote:
    base: str
    quote: str
    rate: Decimal
    rate_date: date  # the oldest leg's date, for a cross rate
    on: date  # the day asked for

    @property
    def age_days(self) -> int:
        return (self.on - self.rate_date).days


class _Series:
    __slots__ = ("days", "rates")

    def __init__(self) -> None:
        self.days: list[date] = []
        self.rates: list[Decimal] = []

    def as_of(self, day: date) -> tuple[date, Decimal] | None:
        i = bisect.bisect_right(self.days, day)
        return (self.days[i - 1], self.rates[i - 1]) if i else None


class RateBook:
    def __init__(self, *, pivot: str = "USD") -> None:
        self.pivot = pivot
        self._series: dict[tuple[str, str], _Series] = {}
        self._lock = threading.Lock()
        self.refreshes = 0

    # --- loading ----------------------------------------------------------------------------
    def replace(self, rows: Iterable[tuple[str, str, date, Decimal]]) -> None:
        """Swap in a complete new set of rates (rows in any order)."""
        series: dict[tuple[str, str], _Series] = {}
        for base, quote, day, rate in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
            s = series.get((base, quote))
            if s is None:
                s = series[(base, quote)] = _Series()
            s.days.append(day)
            s.rates.append(rate)
        with self._lock:
            self._series = series
            self.refreshes += 1

    def load(self, engine: Engine) -> None:
        query = select(fx_rate.c.base, fx_rate.c.quote, fx_rate.c.day, fx_rate.c.rate)
        with engine.connect() as connection:
            self.replace((b, q, d, r) for b, q, d, r in connection.execute(query))

    # --- look-ups ---------------------------------------------------------------------------
    @property
    def currencies(self) -> set[str]:
        series = self._series
        return {c for pair in series for c in pair}

    def _direct(self, base: str, quote: str, day: date) -> tuple[date, Decimal] | None:
        series = self._series
        found = series.get((base, quote))
        if found is not None:
            hit = found.as_of(day)
            if hit is not None:
                return hit
        inverse = series.get((quote, base))
        if inverse is not None:
            hit = inverse.as_of(day)
            if hit is not None:
                return hit[0], ONE / hit[1]
        return None

    def rate(self, base: str, quote: str, day: date, *, max_age_days: int | None = None) -> Quote:
        """base -> quote as of `day`; raise NoRate or StaleRate."""
        if base == quote:
            return Quote(base, quote, ONE, day, day)
        found = self._direct(base, quote, day)
        if found is None:
            pivots = [self.pivot, *sorted({b for b, _ in self._series} - {self.pivot})]
            for pivot in pivots:
                if pivot in (base, quote):
                    continue
                leg_from = self._direct(pivot, base, day)
                leg_to = self._direct(pivot, quote, day)
                if leg_from and leg_to:
                    found = (min(leg_from[0], leg_to[0]), leg_to[1] / leg_from[1])
                    break
        if found is None:
            raise NoRate(f"no {base}/{quote} rate on or before {day.isoformat()}")
        quote_ = Quote(base, quote, found[1], found[0], day)
        if max_age_days is not None and quote_.age_days > max_age_days:
            raise StaleRate(
                f"the latest {base}/{quote} rate on or before {day.isoformat()} is from "
                f"{found[0].isoformat()}, {quote_.age_days} days old (limit {max_age_days})",
                rate_date=found[0],
                age_days=quote_.age_days,
            )
        return quote_

    def latest_day(self, base: str, quote: str) -> date | None:
        found = self._series.get((base, quote))
        return found.days[-1] if found and found.days else None
