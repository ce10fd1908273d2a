"""FX rates: one pair as of a day, and a pair's history."""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.api.deps import RuntimeDep, currency_code, not_future
from app.api.errors import ApiError
from app.api.http import cached
from app.api.schemas import FxHistory, FxPoint, FxRate, dec
from app.convert.rates import RateError
from app.market_calendar import FX_DAYS

router = APIRouter(prefix="/api/v1/fx", tags=["fx"])
MAX_HISTORY_DAYS = 5 * 366


async def _pair(runtime: RuntimeDep, base: str, quote: str) -> tuple[str, str]:
    settings = runtime.settings
    return currency_code(base, settings, field="base"), currency_code(
        quote, settings, field="quote"
    )


PairDep = Annotated[tuple[str, str], Depends(_pair)]


@router.get("/{base}/{quote}", response_model=FxRate)
async def rate(
    runtime: RuntimeDep,
    pair: PairDep,
    date: Annotated[Date | None, Query(description="As-of day (default: today, UTC)")] = None,
) -> FxRate:
    """The latest rate dated on or before `date`, direct, inverted or across the pivot."""
    b, q = pair
    day = not_future(date, field="date", today=runtime.today()) or runtime.today()
    found = runtime.rates.rate(b, q, day, max_age_days=runtime.settings.max_rate_age_days)
    return FxRate(
        base=b,
        quote=q,
        rate=dec(found.rate),
        rate_date=found.rate_date,
        rate_age_days=found.age_days,
        on=day,
    )


@router.get("/{base}/{quote}/history", response_model=FxHistory)
async def history(
    request: Request,
    runtime: RuntimeDep,
    pair: PairDep,
    start: Annotated[
        Date | None, Query(description="First day (default: 30 days before end)")
    ] = None,
    end: Annotated[Date | None, Query(description="Last day (default: today, UTC)")] = None,
) -> Response:
    """One point per business day that has a rate of its own, oldest first."""
    b, q = pair
    last = not_future(end, field="end", today=runtime.today()) or runtime.today()
    first = start or last - timedelta(days=30)
    if first > last:
        raise ApiError(422, "invalid_range", "start must not be after end")
    if (last - first).days > MAX_HISTORY_DAYS:
        raise ApiError(422, "range_too_long", f"at most {MAX_HISTORY_DAYS} days per request")
    points = []
    for day in FX_DAYS.days(first, last):
        try:
            found = runtime.rates.rate(b, q, day)
        except RateError:
            continue
        if found.rate_date == day:
            points.append(FxPoint(day=day, rate=dec(found.rate)))
    body = FxHistory(base=b, quote=q, start=first, end=last, items=points)
    return cached(request, body, immutable=last < runtime.today())
