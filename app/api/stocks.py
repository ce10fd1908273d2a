"""US stocks in the caller's currency: list, prices, latest quote, top performers, 30-day stats.

Endpoints that read the database are plain `def`: FastAPI runs them in its thread pool, so
the event loop never waits on SQL.
"""

from __future__ import annotations

from datetime import date as Date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from app import analytics
from app.api.deps import CurrencyDep, Runtime, RuntimeDep, SymbolDep, not_future
from app.api.errors import ApiError
from app.api.http import cached, decode_cursor, encode_cursor
from app.api.schemas import (
    Performance,
    Performer,
    Price,
    PricePage,
    Stock,
    StockQuote,
    TopPerformers,
    dec,
)
from app.convert.money import quantize
from app.convert.rates import Quote
from app.models import daily_bar

router = APIRouter(prefix="/api/v1/stocks", tags=["stocks"])
PERCENT = Decimal("0.0001")


def _rate(runtime: Runtime, currency: str, day: Date) -> Quote:
    return runtime.rates.rate("USD", currency, day, max_age_days=runtime.settings.max_rate_age_days)


def _price(row: Any, currency: str, quote: Quote) -> Price:
    r = quote.rate
    return Price(
        day=row.day,
        open=dec(quantize(row.open * r, currency)),
        high=dec(quantize(row.high * r, currency)),
        low=dec(quantize(row.low * r, currency)),
        close=dec(quantize(row.close * r, currency)),
        volume=row.volume,
        rate=dec(r),
        rate_date=quote.rate_date,
        suspicious=row.suspicious,
    )


def _pct(value: Decimal) -> str:
    return dec((value * 100).quantize(PERCENT))


@router.get("", response_model=list[Stock])
def stocks(runtime: RuntimeDep) -> list[Stock]:
    """Tracked symbols with their latest stored close (USD)."""
    latest = (
        select(daily_bar.c.symbol, func.max(daily_bar.c.day).label("day"))
        .group_by(daily_bar.c.symbol)
        .subquery()
    )
    query = select(daily_bar.c.symbol, daily_bar.c.day, daily_bar.c.close).join(
        latest, (daily_bar.c.symbol == latest.c.symbol) & (daily_bar.c.day == latest.c.day)
    )
    with runtime.engine.connect() as connection:
        found = {s: (d, c) for s, d, c in connection.execute(query)}
    out = []
    for symbol in runtime.settings.symbols:
        day, close = found.get(symbol, (None, None))
        out.append(
            Stock(
                symbol=symbol,
                currency="USD",
                latest_day=day,
                latest_close=dec(quantize(close, "USD")) if close is not None else None,
            )
        )
    return out


@router.get("/top-performers", response_model=TopPerformers)
def top_performers(
    runtime: RuntimeDep,
    currency: CurrencyDep,
    date: Annotated[
        Date | None, Query(description="Trading day (default: the latest stored)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 3,
) -> TopPerformers:
    """The best daily returns among tracked symbols on one trading day."""
    symbols = runtime.settings.symbols
    asked = not_future(date, field="date", today=runtime.today())
    with runtime.engine.connect() as connection:
        day = asked or analytics.latest_bar_day(connection, symbols, runtime.today())
        if day is None:
            raise ApiError(404, "no_data", "no bars are stored yet")
        returns = analytics.daily_returns(connection, symbols, day)
    if not returns:
        raise ApiError(404, "no_data", f"no returns can be computed for {day.isoformat()}")
    quote = _rate(runtime, currency, day)
    items = [
        Performer(
            symbol=r.symbol,
            day=r.day,
            close=dec(quantize(r.close * quote.rate, currency)),
            previous_close=dec(quantize(r.previous_close * quote.rate, currency)),
            change_pct=_pct(r.change),
            currency=currency,
            rate=dec(quote.rate),
        )
        for r in analytics.top_performers(returns, limit)
    ]
    return TopPerformers(day=day, currency=currency, items=items)


@router.get("/{symbol}/prices", response_model=PricePage)
def prices(
    request: Request,
    runtime: RuntimeDep,
    symbol: SymbolDep,
    currency: CurrencyDep,
    start: Date | None = None,
    end: Date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Response:
    """Daily bars converted with each day's as-of rate, newest first, paginated."""
    last = not_future(end, field="end", today=runtime.today()) or runtime.today()
    if start is not None and start > last:
        raise ApiError(422, "invalid_range", "start must not be after end")
    after = decode_cursor(cursor)
    query = select(daily_bar).where(daily_bar.c.symbol == symbol, daily_bar.c.day <= last)
    if start is not None:
        query = query.where(daily_bar.c.day >= start)
    if after is not None:
        try:
            query = query.where(daily_bar.c.day < Date.fromisoformat(after))
        except ValueError:
            raise ApiError(422, "invalid_cursor", "cursor is not one this API handed out") from None
    query = query.order_by(daily_bar.c.day.desc()).limit(limit + 1)
    with runtime.engine.connect() as connection:
        rows = connection.execute(query).all()
    page, more = rows[:limit], len(rows) > limit
    items = [_price(row, currency, _rate(runtime, currency, row.day)) for row in page]
    body = PricePage(
        symbol=symbol,
        currency=currency,
        items=items,
        next_cursor=encode_cursor(page[-1].day.isoformat()) if more and page else None,
    )
    return cached(request, body, immutable=last < runtime.today())


@router.get("/{symbol}/quote", response_model=StockQuote)
def quote(runtime: RuntimeDep, symbol: SymbolDep, currency: CurrencyDep) -> StockQuote:
    """The latest stored bar, converted with the rate as of its day."""
    query = (
        select(daily_bar)
        .where(daily_bar.c.symbol == symbol)
        .order_by(daily_bar.c.day.desc())
        .limit(1)
    )
    with runtime.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        raise ApiError(404, "no_data", f"no bars stored for {symbol} yet")
    rate = _rate(runtime, currency, row.day)
    price = _price(row, currency, rate)
    return StockQuote(
        **price.model_dump(), symbol=symbol, currency=currency, rate_age_days=rate.age_days
    )


@router.get("/{symbol}/performance", response_model=Performance)
def performance(runtime: RuntimeDep, symbol: SymbolDep, currency: CurrencyDep) -> Performance:
    """30-trading-day average close and volume, change, volatility, and rank by change."""
    today = runtime.today()
    with runtime.engine.connect() as connection:
        every = [analytics.window_stats(connection, s, today) for s in runtime.settings.symbols]
    stats = [s for s in every if s is not None]
    mine = next((s for s in stats if s.symbol == symbol), None)
    if mine is None:
        raise ApiError(404, "no_data", f"no bars stored for {symbol} yet")
    rate = _rate(runtime, currency, mine.last_day)
    rank = analytics.rank_by_change(stats, symbol)
    assert rank is not None
    return Performance(
        symbol=symbol,
        currency=currency,
        window_days=mine.days,
        first_day=mine.first_day,
        last_day=mine.last_day,
        average_close=dec(quantize(mine.average_close * rate.rate, currency)),
        average_volume=dec(mine.average_volume.quantize(Decimal(1))),
        change_pct=_pct(mine.change),
        volatility_pct=_pct(mine.volatility) if mine.volatility is not None else None,
        rank=rank,
        of=len(stats),
    )
