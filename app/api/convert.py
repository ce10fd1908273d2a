"""GET /api/v1/convert: an amount from one currency into another, as of a day."""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import RuntimeDep, currency_code, not_future
from app.api.errors import ApiError
from app.api.schemas import Conversion, dec
from app.convert.money import InvalidAmount, parse_amount, quantize

router = APIRouter(prefix="/api/v1", tags=["convert"])


@router.get("/convert", response_model=Conversion, response_model_by_alias=True)
async def convert(
    runtime: RuntimeDep,
    amount: Annotated[
        str, Query(description="Decimal amount, e.g. 100 or 12.50", examples=["100"])
    ],
    from_: Annotated[str, Query(alias="from", description="ISO 4217 code", examples=["USD"])],
    to: Annotated[str, Query(description="ISO 4217 code", examples=["GBP"])],
    date: Annotated[Date | None, Query(description="As-of day (default: today, UTC)")] = None,
) -> Conversion:
    """Convert with the latest rate dated on or before `date` (weekends and holidays use the
    previous business day's rate). Refused with 409 when that rate is older than the limit.
    Served from memory: no database query."""
    settings = runtime.settings
    source = currency_code(from_, settings, field="from")
    target = currency_code(to, settings, field="to")
    try:
        value = parse_amount(amount)
    except InvalidAmount as error:
        raise ApiError(422, "invalid_amount", f"amount: {error}") from None
    day = not_future(date, field="date", today=runtime.today()) or runtime.today()
    quote = runtime.rates.rate(source, target, day, max_age_days=settings.max_rate_age_days)
    return Conversion(
        amount=dec(value),
        from_=source,
        to=target,
        rate=dec(quote.rate),
        rate_date=quote.rate_date,
        rate_age_days=quote.age_days,
        converted=dec(quantize(value * quote.rate, target)),
    )
