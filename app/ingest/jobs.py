"""What to fetch: the daily jobs' windows, back-fills (resumable) and the catch-up check."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from app.ingest.pipeline import Ingestor, Plan, RunResult
from app.ingest.store import last_bar_days, last_rate_days, stored_bar_days, stored_rate_days
from app.market_calendar import FX_DAYS, NYSE, last_closed_session

PRICES_JOB, FX_JOB, BACKFILL_JOB = "prices_daily", "fx_daily", "backfill"
US_CLOSE_UTC_HOUR = 21  # 16:00 New York is 21:00 UTC in winter, 20:00 in summer
FX_CLOSE_UTC_HOUR = 16  # ECB reference rates are published around 16:00 CET


def latest_bar_day(now: datetime) -> date:
    return last_closed_session(NYSE, now, close_utc_hour=US_CLOSE_UTC_HOUR)


def latest_rate_day(now: datetime) -> date:
    return last_closed_session(FX_DAYS, now, close_utc_hour=FX_CLOSE_UTC_HOUR)


def daily_plan(engine: Engine, symbols: list[str], *, latest: date, initial_days: int) -> Plan:
    """From the day after each symbol's last stored bar up to `latest`; new symbols get
    `initial_days` trading days of history."""
    with engine.connect() as connection:
        last = last_bar_days(connection, symbols)
    first_ever = NYSE.shift(latest, -max(0, initial_days - 1))
    plan: Plan = {}
    for symbol in symbols:
        start = last[symbol] + timedelta(days=1) if symbol in last else first_ever
        if start <= latest:
            plan[symbol] = (start, latest)
    return plan


def backfill_plan(engine: Engine, symbols: list[str], start: date, end: date) -> Plan:
    """Only symbols with trading days missing in [start, end]; stored days are skipped."""
    with engine.connect() as connection:
        stored = stored_bar_days(connection, symbols, start, end)
    plan: Plan = {}
    for symbol in symbols:
        missing = list(NYSE.iter_missing(stored.get(symbol, set()), start, end))
        if missing:
            plan[symbol] = (missing[0], missing[-1])
    return plan


def fx_window(
    engine: Engine, base: str, quotes: list[str], *, latest: date, initial_days: int
) -> tuple[date, date]:
    with engine.connect() as connection:
        last = last_rate_days(connection, base, quotes)
    # Start where the bars' initial history starts (NYSE holidays stretch it further back),
    # so every stored bar has a rate to be converted with.
    first_ever = min(
        FX_DAYS.shift(latest, -max(0, initial_days - 1)),
        NYSE.shift(latest, -max(0, initial_days - 1)),
    )
    starts = [last[q] + timedelta(days=1) if q in last else first_ever for q in quotes]
    return (min(starts, default=latest + timedelta(days=1)), latest)


def fx_backfill_window(
    engine: Engine, base: str, quotes: list[str], start: date, end: date
) -> tuple[date, date] | None:
    with engine.connect() as connection:
        stored = stored_rate_days(connection, base, quotes, start, end)
    missing = [
        day
        for quote in quotes
        for day in FX_DAYS.iter_missing(stored.get(quote, set()), start, end)
    ]
    return (min(missing), max(missing)) if missing else None


async def run_daily_prices(ingestor: Ingestor, *, job: str = PRICES_JOB) -> RunResult:
    settings = ingestor.settings
    plan = daily_plan(
        ingestor.engine,
        settings.symbols,
        latest=latest_bar_day(ingestor.clock()),
        initial_days=settings.initial_backfill_days,
    )
    return await ingestor.run_prices(plan, job=job)


async def run_daily_fx(ingestor: Ingestor, *, job: str = FX_JOB) -> RunResult:
    settings = ingestor.settings
    start, end = fx_window(
        ingestor.engine,
        settings.fx_base,
        settings.quote_currencies,
        latest=latest_rate_day(ingestor.clock()),
        initial_days=settings.initial_backfill_days,
    )
    return await ingestor.run_fx(start, end, job=job)


def behind(ingestor: Ingestor) -> dict[str, bool]:
    """Which kinds have stored data older than the latest session that should exist."""
    settings, now = ingestor.settings, ingestor.clock()
    with ingestor.engine.connect() as connection:
        bars = last_bar_days(connection, settings.symbols)
        rates = last_rate_days(connection, settings.fx_base, settings.quote_currencies)
    latest_bar, latest_rate = latest_bar_day(now), latest_rate_day(now)
    return {
        "prices": any(bars.get(s, date.min) < latest_bar for s in settings.symbols),
        "fx": any(rates.get(q, date.min) < latest_rate for q in settings.quote_currencies),
    }
