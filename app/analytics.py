"""Returns, top performers and 30-day statistics, computed from stored bars (Decimal)."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from app.models import daily_bar

WINDOW = 30  # trading days


@dataclass(frozen=True, slots=True)
class DailyReturn:
    symbol: str
    day: date
    close: Decimal
    previous_day: date
    previous_close: Decimal

    @property
    def change(self) -> Decimal:
        return self.close / self.previous_close - 1


@dataclass(frozen=True, slots=True)
class WindowStats:
    symbol: str
    first_day: date
    last_day: date
    days: int
    average_close: Decimal
    average_volume: Decimal
    change: Decimal  # last close / first close - 1
    volatility: Decimal | None  # sample standard deviation of daily returns
    last_close: Decimal


def latest_bar_day(connection: Connection, symbols: list[str], on_or_before: date) -> date | None:
    query = select(func.max(daily_bar.c.day)).where(
        daily_bar.c.symbol.in_(symbols), daily_bar.c.day <= on_or_before
    )
    found: date | None = connection.execute(query).scalar_one_or_none()
    return found


def daily_returns(connection: Connection, symbols: list[str], day: date) -> list[DailyReturn]:
    """Each symbol's return on `day` against its previous stored bar."""
    today = select(daily_bar.c.symbol, daily_bar.c.close).where(
        daily_bar.c.symbol.in_(symbols), daily_bar.c.day == day
    )
    closes = {s: c for s, c in connection.execute(today)}
    if not closes:
        return []
    prior = (
        select(daily_bar.c.symbol, func.max(daily_bar.c.day).label("day"))
        .where(daily_bar.c.symbol.in_(list(closes)), daily_bar.c.day < day)
        .group_by(daily_bar.c.symbol)
        .subquery()
    )
    query = select(daily_bar.c.symbol, daily_bar.c.day, daily_bar.c.close).join(
        prior, and_(daily_bar.c.symbol == prior.c.symbol, daily_bar.c.day == prior.c.day)
    )
    return [
        DailyReturn(symbol, day, closes[symbol], previous_day, previous_close)
        for symbol, previous_day, previous_close in connection.execute(query)
        if previous_close
    ]


def top_performers(returns: list[DailyReturn], limit: int) -> list[DailyReturn]:
    return sorted(returns, key=lambda r: (-r.change, r.symbol))[:limit]


def window_stats(connection: Connection, symbol: str, on_or_before: date) -> WindowStats | None:
    query = (
        select(daily_bar.c.day, daily_bar.c.close, daily_bar.c.volume)
        .where(daily_bar.c.symbol == symbol, daily_bar.c.day <= on_or_before)
        .order_by(daily_bar.c.day.desc())
        .limit(WINDOW)
    )
    rows = list(reversed(connection.execute(query).all()))
    if not rows:
        return None
    closes = [r.close for r in rows]
    returns = [b / a - 1 for a, b in itertools.pairwise(closes) if a]
    volatility = statistics.stdev(returns) if len(returns) >= 2 else None
    return WindowStats(
        symbol=symbol,
        first_day=rows[0].day,
        last_day=rows[-1].day,
        days=len(rows),
        average_close=sum(closes, Decimal(0)) / len(closes),
        average_volume=Decimal(sum(r.volume for r in rows)) / len(rows),
        change=closes[-1] / closes[0] - 1,
        volatility=volatility,
        last_close=closes[-1],
    )


def rank_by_change(stats: list[WindowStats], symbol: str) -> int | None:
    ordered = sorted(stats, key=lambda s: (-s.change, s.symbol))
    for position, item in enumerate(ordered, start=1):
        if item.symbol == symbol:
            return position
    return None
