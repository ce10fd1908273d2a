"""Per-symbol freshness: NYSE sessions, not calendar days; cached text, fresh values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from app.config import load_settings
from app.ingest.freshness import sessions_behind, symbol_freshness
from app.telemetry.freshness import SymbolFreshness

FRIDAY, MONDAY, TUESDAY = date(2025, 3, 7), date(2025, 3, 10), date(2025, 3, 11)


def test_a_weekend_is_not_staleness() -> None:
    assert sessions_behind(FRIDAY, FRIDAY) == 0
    assert sessions_behind(FRIDAY, MONDAY) == 1  # Monday's session closed, not stored
    assert sessions_behind(FRIDAY, TUESDAY) == 2
    assert sessions_behind(date(2025, 4, 17), date(2025, 4, 21)) == 1  # Good Friday
    assert math.isinf(sessions_behind(None, MONDAY))


def test_lag_follows_the_clock_on_the_nyse_calendar() -> None:
    now = [datetime(2025, 3, 8, 12, tzinfo=UTC)]  # Saturday
    freshness = symbol_freshness(load_settings(symbols="AAPL,MSFT"), lambda: now[0])
    freshness.update({"AAPL": FRIDAY})
    assert freshness.values() == {
        "AAPL": (int(datetime(2025, 3, 7, tzinfo=UTC).timestamp()), 0.0),
        "MSFT": (0, math.inf),
    }
    weekend = freshness.render()
    assert b'tickerconv_symbol_lag_trading_days{symbol="MSFT"} +Inf' in weekend
    now[0] = datetime(2025, 3, 10, 22, tzinfo=UTC)  # Monday after the close
    assert freshness.values()["AAPL"][1] == 1.0
    assert b'tickerconv_symbol_lag_trading_days{symbol="AAPL"} 1\n' in freshness.render()


def test_rendering_is_cached_until_data_changes() -> None:
    freshness = SymbolFreshness(
        [f"S{i}" for i in range(5000)], latest=lambda: TUESDAY, lag=sessions_behind
    )
    first = freshness.render()
    assert freshness.render() is first  # nothing changed: the same bytes
    freshness.update({"S1": TUESDAY, "NOT-CONFIGURED": TUESDAY})
    second = freshness.render()
    assert second is not first and b'{symbol="S1"} 0\n' in second
    assert b"NOT-CONFIGURED" not in second  # labels stay bounded by the configuration
    assert second.count(b"\n") == 2 * (5000 + 2)
