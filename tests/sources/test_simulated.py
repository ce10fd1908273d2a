from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest

from app.market_calendar import FX_DAYS, NYSE
from app.sources.base import Throttled, UnknownSymbol, UpstreamUnavailable
from app.sources.simulated import Faults, SimulatedMarket
from tests.conftest import NOW


def market(**faults: float) -> SimulatedMarket:
    return SimulatedMarket(seed=7, faults=Faults(**faults), clock=lambda: NOW)  # type: ignore[arg-type]


def test_same_seed_same_day_same_bar_whatever_the_window() -> None:
    wide = {b.day: b for b in market().bars("AAPL", date(2024, 1, 1), date(2025, 3, 12))}
    narrow = market().bars("AAPL", date(2024, 6, 3), date(2024, 6, 7))
    assert narrow and all(wide[b.day] == b for b in narrow)
    other_seed = SimulatedMarket(seed=8, clock=lambda: NOW).bars(
        "AAPL", date(2024, 6, 3), date(2024, 6, 3)
    )
    assert other_seed[0] != narrow[0]


def test_bars_exist_on_trading_days_only_and_never_in_the_future() -> None:
    bars = market().bars("MSFT", date(2024, 12, 20), date(2025, 12, 31))
    days = [date.fromisoformat(b.day) for b in bars]
    assert days == NYSE.days(date(2024, 12, 20), date(2025, 3, 12))
    assert date(2024, 12, 25).isoformat() not in {b.day for b in bars}


def test_bars_are_consistent_and_volumes_non_negative() -> None:
    for symbol in ("AAPL", "TSLA", "ZZZZ"):
        for bar in market().bars(symbol, date(2020, 1, 1), date(2025, 3, 12)):
            o, h, lo, c = (Decimal(x) for x in (bar.open, bar.high, bar.low, bar.close))
            assert lo <= min(o, c) and max(o, c) <= h and lo > 0, bar
            assert int(bar.volume) >= 0


def test_walk_moves_like_a_stock() -> None:
    bars = market().bars("NVDA", date(2023, 1, 1), date(2025, 3, 12))
    closes = [Decimal(b.close) for b in bars]
    moves = [abs(b / a - 1) for a, b in pairwise(closes)]
    assert Decimal("0.005") < sum(moves) / len(moves) < Decimal("0.05")
    assert max(moves) < Decimal("0.2")
    assert len(set(closes)) > len(closes) * 0.99


def test_fx_rates_are_realistic_and_cover_every_quote() -> None:
    rates = market().rates("USD", ["GBP", "EUR", "JPY"], date(2025, 3, 3), date(2025, 3, 7))
    assert len(rates) == 15
    levels = {r.quote: Decimal(r.rate) for r in rates if r.day == "2025-03-07"}
    assert Decimal("0.5") < levels["GBP"] < Decimal("1.2")
    assert Decimal("100") < levels["JPY"] < Decimal("220")
    assert all(FX_DAYS.is_trading_day(date.fromisoformat(r.day)) for r in rates)
    cross = market().rates("GBP", ["JPY"], date(2025, 3, 7), date(2025, 3, 7))[0]
    implied = levels["JPY"] / levels["GBP"]
    assert abs(Decimal(cross.rate) / implied - 1) < Decimal("1e-6")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownSymbol):
        market().rates("USD", ["QQQ"], date(2025, 3, 3), date(2025, 3, 7))


def test_stale_knob_holds_data_back() -> None:
    bars = market(stale_days=3).bars("AAPL", date(2025, 3, 1), date(2025, 3, 12))
    assert bars[-1].day == "2025-03-07"  # three trading days before Wednesday 12th


def test_invalid_bar_knob_breaks_a_share_of_bars() -> None:
    bars = market(invalid_bar_rate=0.2).bars("AAPL", date(2024, 1, 1), date(2025, 3, 12))
    broken = sum(Decimal(b.high) < Decimal(b.low) for b in bars)
    assert 0.1 * len(bars) < broken < 0.3 * len(bars)


async def test_error_and_throttle_knobs_raise_the_taxonomy() -> None:
    outages = market(error_rate=1.0)
    with pytest.raises(UpstreamUnavailable):
        await outages.fetch_bars("AAPL", date(2025, 3, 3), date(2025, 3, 7))
    throttled = market(throttle_rate=1.0)
    with pytest.raises(Throttled):
        await throttled.fetch_rates("USD", ["GBP"], date(2025, 3, 3), date(2025, 3, 7))
