from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.convert.money import minor_units, quantize
from app.convert.rates import NoRate, RateBook, StaleRate

GBP = Decimal("0.78125")
JPY = Decimal("150.25")
EUR = Decimal("0.9125")


@pytest.fixture
def book() -> RateBook:
    rates = RateBook()
    rates.replace(
        [
            ("USD", "GBP", date(2025, 4, 16), GBP),
            ("USD", "JPY", date(2025, 4, 16), JPY),
            ("USD", "EUR", date(2025, 4, 16), EUR),
            ("USD", "GBP", date(2025, 4, 17), Decimal("0.8")),
            ("USD", "JPY", date(2025, 4, 15), Decimal("149")),
        ]
    )
    return rates


def test_direct_inverse_identity_and_cross(book: RateBook) -> None:
    assert book.rate("USD", "GBP", date(2025, 4, 16)).rate == GBP
    assert book.rate("GBP", "USD", date(2025, 4, 16)).rate == 1 / GBP
    assert book.rate("EUR", "EUR", date(2025, 4, 16)).rate == 1
    cross = book.rate("GBP", "JPY", date(2025, 4, 16))
    assert cross.rate == JPY / GBP
    assert cross.rate_date == date(2025, 4, 16)


def test_as_of_uses_the_latest_rate_on_or_before_the_day(book: RateBook) -> None:
    easter_monday = book.rate(
        "USD", "GBP", date(2025, 4, 21)
    )  # no ECB rates on Good Friday..Monday
    assert (easter_monday.rate, easter_monday.rate_date, easter_monday.age_days) == (
        Decimal("0.8"),
        date(2025, 4, 17),
        4,
    )
    cross = book.rate("GBP", "JPY", date(2025, 4, 17))
    assert cross.rate_date == date(2025, 4, 16)  # the older leg dates a cross rate
    assert cross.rate == JPY / Decimal("0.8")


def test_stale_and_missing_rates_are_refused(book: RateBook) -> None:
    with pytest.raises(StaleRate) as stale:
        book.rate("USD", "GBP", date(2025, 4, 28), max_age_days=5)
    assert (stale.value.rate_date, stale.value.age_days) == (date(2025, 4, 17), 11)
    assert book.rate("USD", "GBP", date(2025, 4, 22), max_age_days=5).age_days == 5
    with pytest.raises(NoRate):
        book.rate("USD", "GBP", date(2025, 4, 1))
    with pytest.raises(NoRate):
        book.rate("USD", "CHF", date(2025, 4, 16))


CURRENCIES = ["USD", "GBP", "JPY", "EUR"]


@given(
    amount=st.decimals(
        min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False
    ),
    pair=st.permutations(CURRENCIES).map(lambda p: (p[0], p[1])),
)
def test_round_trip_stays_within_one_minor_unit(amount: Decimal, pair: tuple[str, str]) -> None:
    rates = RateBook()
    rates.replace(
        [
            ("USD", "GBP", date(2025, 4, 16), GBP),
            ("USD", "JPY", date(2025, 4, 16), JPY),
            ("USD", "EUR", date(2025, 4, 16), EUR),
        ]
    )
    a, b = pair
    day = date(2025, 4, 16)
    x = quantize(amount, a)
    there = quantize(x * rates.rate(a, b, day).rate, b)
    back = quantize(there * rates.rate(b, a, day).rate, a)
    assert abs(back - x) <= Decimal(1).scaleb(-minor_units(a))
