"""GET /api/v1/currencies: what can be converted."""

from __future__ import annotations

from babel.numbers import get_currency_name
from fastapi import APIRouter

from app.api.deps import RuntimeDep
from app.api.schemas import Currency
from app.convert.money import minor_units

router = APIRouter(prefix="/api/v1", tags=["currencies"])


@router.get("/currencies", response_model=list[Currency])
async def currencies(runtime: RuntimeDep) -> list[Currency]:
    base = runtime.settings.fx_base
    return [
        Currency(
            code=code,
            name=get_currency_name(code, locale="en"),
            minor_units=minor_units(code),
            latest_rate_date=None if code == base else runtime.rates.latest_day(base, code),
        )
        for code in runtime.settings.currencies
    ]
