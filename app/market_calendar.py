"""Trading-day calendars: NYSE for stock bars, weekdays for FX reference rates."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays

EPOCH = date(2000, 1, 3)  # first NYSE trading day of 2000; index 0 of the simulated market


@lru_cache(maxsize=64)
def _nyse_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.financial_holidays("NYSE", years=year).keys())


def is_nyse_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _nyse_holidays(day.year)


def is_fx_day(day: date) -> bool:
    """ECB reference rates (and our simulated FX) exist on weekdays only."""
    return day.weekday() < 5


def utc_today() -> date:
    return datetime.now(UTC).date()


class TradingCalendar:
    """Ordered trading days with O(log n) index look-ups, built lazily per year."""

    def __init__(self, *, nyse: bool) -> None:
        self._is_day = is_nyse_trading_day if nyse else is_fx_day
        self._days: list[date] = []
        self._until = EPOCH - timedelta(days=1)

    def _extend(self, until: date) -> None:
        day = self._until + timedelta(days=1)
        while day <= until:
            if self._is_day(day):
                self._days.append(day)
            day += timedelta(days=1)
        self._until = until

    def _ensure(self, day: date) -> None:
        if day > self._until:
            self._extend(date(day.year, 12, 31))

    def is_trading_day(self, day: date) -> bool:
        return self._is_day(day)

    def days(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end], both inclusive."""
        if end < start:
            return []
        self._ensure(end)
        lo = bisect.bisect_left(self._days, max(start, EPOCH))
        hi = bisect.bisect_right(self._days, end)
        return self._days[lo:hi]

    def index(self, day: date) -> int:
        """Index of a trading day since EPOCH (the number of trading days before it)."""
        self._ensure(day)
        return bisect.bisect_left(self._days, day)

    def latest_on_or_before(self, day: date) -> date:
        self._ensure(day)
        pos = bisect.bisect_right(self._days, day)
        if pos == 0:
            raise ValueError(f"no trading day on or before {day}")
        return self._days[pos - 1]

    def shift(self, day: date, trading_days: int) -> date:
        """The trading day `trading_days` before (negative) or after the latest one <= day."""
        anchor = self.index(self.latest_on_or_before(day))
        target = anchor + trading_days
        if target < 0:
            return EPOCH
        self._ensure(day + timedelta(days=2 * abs(trading_days) + 10))
        return self._days[target]

    def lag(self, last: date, today: date) -> int:
        """Trading days that have passed after `last` up to and including `today`."""
        return max(0, len(self.days(last + timedelta(days=1), today)))

    def iter_missing(self, present: set[date], start: date, end: date) -> Iterator[date]:
        return (d for d in self.days(start, end) if d not in present)


NYSE = TradingCalendar(nyse=True)
FX_DAYS = TradingCalendar(nyse=False)


def last_closed_session(calendar: TradingCalendar, now: datetime, *, close_utc_hour: int) -> date:
    """The latest trading day whose data should exist at `now` (UTC, timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    today = now.date()
    if calendar.is_trading_day(today) and now.hour >= close_utc_hour:
        return today
    return calendar.latest_on_or_before(today - timedelta(days=1))
