"""Liveness and readiness probes; readiness reports data freshness per kind."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import Runtime, RuntimeDep
from app.ingest.jobs import latest_bar_day, latest_rate_day
from app.ingest.store import last_bar_days, last_rate_days
from app.market_calendar import FX_DAYS, NYSE

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _freshness(runtime: Runtime) -> dict[str, Any]:
    settings, now = runtime.settings, runtime.clock()
    with runtime.engine.connect() as connection:
        bars = last_bar_days(connection, settings.symbols)
        rates = last_rate_days(connection, settings.fx_base, settings.quote_currencies)
    out: dict[str, Any] = {}
    for kind, last, expected, calendar in (
        ("prices", bars, latest_bar_day(now), NYSE),
        ("fx", rates, latest_rate_day(now), FX_DAYS),
    ):
        oldest = min(last.values()) if last else None
        lag = calendar.lag(oldest, expected) if oldest else None
        out[kind] = {
            "oldest_latest_day": oldest.isoformat() if oldest else None,
            "expected_day": expected.isoformat(),
            "lag_trading_days": lag,
            "fresh": lag == 0 and len(last) > 0,
        }
    return out


@router.get(
    "/ready",
    summary="Readiness: the database answers; data freshness per kind",
    response_model=None,
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    try:
        freshness = await asyncio.to_thread(_freshness, runtime)
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    leader = runtime.scheduler.is_leader if runtime.scheduler else False
    return JSONResponse(
        {"status": "ready", "database": "ok", "scheduler_leader": leader, "freshness": freshness}
    )
