from __future__ import annotations

from decimal import Decimal

import pytest

from app.convert.money import InvalidAmount, minor_units, parse_amount, quantize


@pytest.mark.parametrize(("currency", "units"), [("JPY", 0), ("GBP", 2), ("USD", 2), ("KWD", 3)])
def test_minor_units_follow_iso_4217(currency: str, units: int) -> None:
    assert minor_units(currency) == units


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "GBP", "2.34"),  # a tie goes to the even neighbour
        ("2.355", "GBP", "2.36"),
        ("2.3451", "GBP", "2.35"),
        ("184.5", "JPY", "184"),
        ("185.5", "JPY", "186"),
        ("1.0005", "KWD", "1.000"),
        ("1.0015", "KWD", "1.002"),
    ],
)
def test_quantize_is_half_even_at_the_currency_scale(
    amount: str, currency: str, expected: str
) -> None:
    assert str(quantize(Decimal(amount), currency)) == expected


@pytest.mark.parametrize(
    "text",
    ["-1", "NaN", "Infinity", "-Infinity", "abc", "", "1e400", "1234567890123456", "0.123456789"],
)
def test_amounts_that_are_not_money_are_refused(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", "0"), ("100", "100"), ("12.50", "12.50"), (" 7 ", "7"), ("1E+2", "1E+2")],
)
def test_valid_amounts_keep_their_exact_value(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)
