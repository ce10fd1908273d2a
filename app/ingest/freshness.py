"""Freshness gauges fed from the store: the newest bar per symbol, the newest rate per pair.

Loaded at start-up, reloaded for the keys a `DataStored` event names, and every
`freshness_refresh_seconds`, so a replica that does not ingest (a standby) still reports
what the database holds. Lag counts NYSE sessions, so a weekend is not staleness.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time

from sqlalchemy import Engine

from app.config import Settings
from app.ingest.events import DataStored
from app.ingest.jobs import latest_bar_day
from app.ingest.store import last_bar_days, last_rate_days
from app.market_calendar import NYSE
from app.telemetry import Telemetry
from app.telemetry.freshness import SymbolFreshness

log = logging.getLogger(__name__)


def sessions_behind(last: date | None, latest: date) -> float:
    return math.inf if last is None else float(NYSE.lag(last, latest))


def symbol_freshness(settings: Settings, clock: Callable[[], datetime]) -> SymbolFreshness:
    return SymbolFreshness(
        settings.symbols, latest=lambda: latest_bar_day(clock()), lag=sessions_behind
    )


class FreshnessMonitor:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        telemetry: Telemetry,
        symbols: SymbolFreshness,
    ) -> None:
        self.engine, self.settings, self.symbols = engine, settings, symbols
        self._fx = {
            q: telemetry.metrics.fx_last_rate.labels(settings.fx_base, q)
            for q in settings.quote_currencies
        }

    def reload(self, symbols: Iterable[str] | None = None, *, rates: bool = True) -> None:
        """Read the newest stored days (blocking: call it in a worker thread)."""
        with self.engine.connect() as connection:
            bars = last_bar_days(connection, self.settings.symbols if symbols is None else symbols)
            newest = last_rate_days(connection, self.settings.fx_base, self._fx) if rates else {}
        self.symbols.update(bars)
        for quote, day in newest.items():
            self._fx[quote].set(datetime.combine(day, time(), UTC).timestamp())

    async def on_stored(self, event: DataStored) -> None:
        if event.kind == "bar":
            await asyncio.to_thread(self.reload, event.keys, rates=False)
        else:
            await asyncio.to_thread(self.reload, [], rates=True)

    async def refresh_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self.reload)
            except Exception:  # the database may be down for a while: /ready says so
                log.warning("freshness refresh failed", exc_info=True)
