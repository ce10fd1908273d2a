from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.market_calendar import FX_DAYS, NYSE, is_nyse_trading_day, last_closed_session


def test_nyse_skips_weekends_and_exchange_holidays() -> None:
    assert not is_nyse_trading_day(date(2025, 12, 25))  # Christmas
    assert not is_nyse_trading_day(date(2025, 4, 18))  # Good Friday: NYSE only
    assert not is_nyse_trading_day(date(2025, 3, 15))  # Saturday
    assert is_nyse_trading_day(date(2025, 11, 28))  # the day after Thanksgiving trades
    assert FX_DAYS.is_trading_day(date(2025, 4, 18))


def test_days_shift_and_lag_count_trading_days() -> None:
    days = NYSE.days(date(2025, 4, 16), date(2025, 4, 22))
    assert days == [date(2025, 4, 16), date(2025, 4, 17), date(2025, 4, 21), date(2025, 4, 22)]
    assert NYSE.shift(date(2025, 4, 21), -1) == date(2025, 4, 17)
    assert NYSE.shift(date(2025, 4, 19), 0) == date(2025, 4, 17)  # Saturday -> Thursday
    assert NYSE.lag(date(2025, 4, 17), date(2025, 4, 20)) == 0  # a long weekend is not lag
    assert NYSE.lag(date(2025, 4, 17), date(2025, 4, 22)) == 2
    assert NYSE.index(days[1]) == NYSE.index(days[0]) + 1


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 3, 12, 22, 0, tzinfo=UTC), date(2025, 3, 12)),  # after the close
        (datetime(2025, 3, 12, 15, 0, tzinfo=UTC), date(2025, 3, 11)),  # before it
        (datetime(2025, 3, 16, 12, 0, tzinfo=UTC), date(2025, 3, 14)),  # Sunday
    ],
)
def test_last_closed_session(now: datetime, expected: date) -> None:
    assert last_closed_session(NYSE, now, close_utc_hour=21) == expected


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        last_closed_session(NYSE, datetime(2025, 3, 12, 22, 0), close_utc_hour=21)  # noqa: DTZ001
