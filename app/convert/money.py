"""Money: Decimal amounts quantized to a currency's ISO 4217 minor units, half-even."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

MAX_INTEGER_DIGITS = 15  # a trillion-and-more in any currency; beyond that it is not money
MAX_FRACTION_DIGITS = 8


class InvalidAmount(ValueError):
    """An amount that is not a finite, non-negative money value we can carry."""


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """ISO 4217 minor units: JPY 0, GBP 2, KWD 3."""
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_EVEN)


def parse_amount(text: str) -> Decimal:
    """A user's amount: finite, >= 0, at most 15 integer and 8 fraction digits."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidAmount(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if value < 0:
        raise InvalidAmount("amount must not be negative")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    fraction = max(0, -exponent)
    integer = max(0, len(digits) + exponent)
    if fraction > MAX_FRACTION_DIGITS or integer > MAX_INTEGER_DIGITS:
        raise InvalidAmount(
            f"amount carries at most {MAX_INTEGER_DIGITS} integer and "
            f"{MAX_FRACTION_DIGITS} fraction digits"
        )
    return value
