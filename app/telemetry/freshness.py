"""Per-symbol freshness series, rendered as cached exposition text.

With 5,000 configured symbols the two per-symbol gauges are 10,000 series: prometheus_client
renders those in ~57 ms (text) or ~107 ms (OpenMetrics) per scrape, measured here. Their
values change only when bars are stored or a new NYSE session closes, so the text is
rendered once per change and reused by every scrape.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time

from app.telemetry.catalog import SYMBOL_LAG, SYMBOL_LAST_BAR, Spec

Lag = Callable[[date | None, date], float]  # (newest stored day, latest session) -> sessions


def _day_start(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return str(int(value)) if value == int(value) else repr(value)


class SymbolFreshness:
    """Newest stored bar per configured symbol; thread-safe (scrapes render in a worker)."""

    def __init__(self, symbols: Iterable[str], *, latest: Callable[[], date], lag: Lag) -> None:
        self._last: dict[str, date | None] = dict.fromkeys(symbols)
        self._latest, self._lag = latest, lag
        self._lock = threading.Lock()
        self._version = 0
        self._rendered: tuple[int, date, bytes] | None = None

    def update(self, last_days: Mapping[str, date]) -> None:
        """Newest stored day per symbol (unknown symbols are ignored: labels stay bounded)."""
        with self._lock:
            for symbol, day in last_days.items():
                if symbol in self._last and self._last[symbol] != day:
                    self._last[symbol] = day
                    self._version += 1

    def values(self) -> dict[str, tuple[int, float]]:
        """symbol -> (last bar timestamp, lag in sessions), as exposed."""
        return self._values(self._latest())[1]

    def render(self) -> bytes:
        """Both gauges as exposition lines (the same in text and OpenMetrics formats)."""
        latest = self._latest()
        rendered = self._rendered
        if rendered is not None and rendered[:2] == (self._version, latest):
            return rendered[2]
        version, values = self._values(latest)
        lines: list[str] = []
        for index, spec in enumerate((SYMBOL_LAST_BAR, SYMBOL_LAG)):
            lines += _header(spec)
            lines += [
                f'{spec.name}{{symbol="{symbol}"}} {_number(pair[index])}'
                for symbol, pair in values.items()
            ]
        body = ("\n".join(lines) + "\n").encode()
        self._rendered = (version, latest, body)  # stale at once if an update came in between
        return body

    def _values(self, latest: date) -> tuple[int, dict[str, tuple[int, float]]]:
        with self._lock:
            version, items = self._version, list(self._last.items())
        lags: dict[date | None, float] = {}
        out = {}
        for symbol, day in items:
            if day not in lags:
                lags[day] = self._lag(day, latest)
            out[symbol] = (_day_start(day) if day else 0, lags[day])
        return version, out


def _header(spec: Spec) -> list[str]:
    return [f"# HELP {spec.name} {spec.help}", f"# TYPE {spec.name} {spec.type}"]
