"""GET /api/v1/convert: an amount from one currency into another, as of a day.

The hot path of the service: no database query (the rate book is in memory), the query
string validated by one pydantic model, the body written directly. See DESIGN.md.
"""

from __future__ import annotations

from datetime import date as Date

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Runtime, not_future
from app.api.errors import ApiError
from app.api.http import DirectRoute, query_model, query_parameters
from app.api.schemas import Conversion, dec
from app.convert.money import InvalidAmount, parse_amount, quantize

router = APIRouter(prefix="/api/v1", tags=["convert"], route_class=DirectRoute)


class ConvertQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    amount: str = Field(description="Decimal amount, e.g. 100 or 12.50", examples=["100"])
    from_: str = Field(alias="from", description="ISO 4217 code", examples=["USD"])
    to: str = Field(description="ISO 4217 code", examples=["GBP"])
    date: Date | None = Field(None, description="As-of day (default: today, UTC)")


@router.get(
    "/convert",
    openapi_extra=query_parameters(ConvertQuery),
    responses={
        200: {"model": Conversion, "description": "the converted amount"},
        409: {"description": "no rate recent enough"},
        422: {"description": "bad input"},
    },
)
async def convert(request: Request) -> Response:
    """Convert with the latest rate dated on or before `date` (weekends and holidays use the
    previous business day's rate). Refused with 409 when that rate is older than the limit."""
    runtime: Runtime = request.app.state.runtime
    settings, telemetry = runtime.settings, runtime.telemetry
    query = query_model(request, ConvertQuery)
    source = runtime.currency(query.from_, field="from")
    target = runtime.currency(query.to, field="to")
    try:
        value = parse_amount(query.amount)
    except InvalidAmount as error:
        raise ApiError(422, "invalid_amount", f"amount: {error}") from None
    today = runtime.today()
    day = not_future(query.date, field="date", today=today) or today
    # Two child spans, for the two steps of our own (a span costs ~60 us here with its
    # export; validating the query is framework work, visible in the server span).
    with telemetry.child_span("convert.rate", from_currency=source, to_currency=target):
        quote = runtime.rates.rate(source, target, day, max_age_days=settings.max_rate_age_days)
    with telemetry.child_span("convert.compute"):
        converted = quantize(value * quote.rate, target)
    telemetry.converted(source, target, quote.age_days)
    # Every value is a validated code, a plain decimal or an ISO date: nothing to escape.
    body = (
        f'{{"amount":"{dec(value)}","from":"{source}","to":"{target}",'
        f'"rate":"{dec(quote.rate)}","rate_date":"{quote.rate_date.isoformat()}",'
        f'"rate_age_days":{quote.age_days},"converted":"{dec(converted)}"}}'
    )
    return Response(body, media_type="application/json")
