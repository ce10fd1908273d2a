"""A deterministic offline market: the embedded default source for prices and FX.

Each symbol follows a geometric random walk over trading days (NYSE days for stocks,
weekdays for FX). The walk is a function of (seed, symbol, day) alone, whatever range is
asked for, so re-running or back-filling any window yields the same numbers:

* the Brownian path at block boundaries (every 32 trading days) comes from Lévy's midpoint
  construction, each node drawn from its own seeded generator (O(log n) per node, cached);
* inside a block, a Brownian bridge between the two boundary values, from the block's own
  seeded generator.

Fault knobs (error rate, throttling, latency, stale data, a share of invalid bars) let tests
and demos make alerts fire.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from app.market_calendar import FX_DAYS, NYSE, TradingCalendar, last_closed_session
from app.sources.base import RawBar, RawRate, Throttled, UnknownSymbol, UpstreamUnavailable

BLOCK = 32  # trading days per bridge block: a month of data touches one or two
LEVELS = 11  # 2**11 blocks of 32 days: about 260 years of trading days from 2000
REFERENCE_DAY = date(2025, 1, 2)  # prices below are roughly the closes of this day

_STOCK_LEVELS = {
    "AAPL": (243.85, 55e6),
    "MSFT": (418.58, 20e6),
    "AMZN": (220.22, 40e6),
    "GOOGL": (189.43, 25e6),
    "META": (599.24, 12e6),
    "NVDA": (138.31, 250e6),
    "TSLA": (379.28, 100e6),
}
_FX_LEVELS = {  # units of quote per 1 USD
    "USD": 1.0,
    "GBP": 0.8012,
    "EUR": 0.9662,
    "JPY": 157.52,
    "CHF": 0.9069,
    "CAD": 1.4386,
    "AUD": 1.6112,
    "NZD": 1.7814,
    "SEK": 11.04,
    "NOK": 11.35,
    "HKD": 7.7673,
    "SGD": 1.3663,
    "CNY": 7.2993,
    "INR": 85.79,
}
_KNOWN_CURRENCIES = frozenset(_FX_LEVELS) | {"DKK", "PLN", "CZK", "HUF", "MXN", "BRL", "ZAR", "KRW"}


@dataclass(frozen=True, slots=True)
class Faults:
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    latency_seconds: float = 0.0
    stale_days: int = 0
    invalid_bar_rate: float = 0.0


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


_TWO_64 = float(2**64)


@lru_cache(maxsize=200_000)
def _node(seed: int, key: str, lo: int, hi: int) -> float:
    """The standard normal draw of the dyadic interval [lo, hi]: Box-Muller on a keyed hash."""
    digest = hashlib.blake2b(f"{seed}|{key}|{lo}|{hi}".encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / _TWO_64  # (0, 1]
    u2 = int.from_bytes(digest[8:], "big") / _TWO_64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _brownian_at_block(seed: int, key: str, k: int) -> float:
    """W(k) in units of blocks, via Lévy's midpoint construction on [0, 2**LEVELS]."""
    lo, hi = 0, 1 << LEVELS
    w_lo, w_hi = 0.0, math.sqrt(hi) * _node(seed, key, -1, hi)
    while True:
        if k == lo:
            return w_lo
        if k == hi:
            return w_hi
        mid = (lo + hi) // 2
        w_mid = (w_lo + w_hi) / 2 + math.sqrt((hi - lo) / 4) * _node(seed, key, lo, hi)
        if k < mid:
            hi, w_hi = mid, w_mid
        else:
            lo, w_lo = mid, w_mid


_SQRT_BLOCK = math.sqrt(BLOCK)


def _boundary(seed: int, key: str, k: int) -> float:
    """W at the first day of block k, in units of sqrt(trading days)."""
    return _brownian_at_block(seed, key, k) * _SQRT_BLOCK


@lru_cache(maxsize=8192)
def _block(seed: int, key: str, k: int) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """W for each day of block k (a Brownian bridge between its boundaries) and 60 uniform
    bits per day for the day's extras (gap, wicks, volume, fault draw)."""
    start, end = _boundary(seed, key, k), _boundary(seed, key, k + 1)
    rng = random.Random(f"{seed}|{key}|block|{k}")
    gauss, bits = rng.gauss, rng.getrandbits
    steps = [gauss(0.0, 1.0) for _ in range(BLOCK)]
    extras = tuple(bits(60) for _ in range(BLOCK))
    drift = (sum(steps) - (end - start)) / BLOCK
    path: list[float] = []
    acc = start
    for i, step in enumerate(steps):  # S_i - (i/B)(S_B - (end - start)), from `start`
        path.append(acc - i * drift)
        acc += step
    return tuple(path), extras


_U12 = 1.0 / 4096.0  # five 12-bit uniforms in [0, 1) are packed into each day's 60 bits


@lru_cache(maxsize=16_384)
def _iso_day(day: date) -> str:
    return day.isoformat()


class _Walk:
    """Log-price path of one instrument on one calendar, anchored at a block boundary near
    REFERENCE_DAY (so the anchor costs no bridge block of its own)."""

    def __init__(
        self, seed: int, key: str, calendar: TradingCalendar, sigma: float, drift: float
    ) -> None:
        self.seed, self.key, self.calendar = seed, key, calendar
        self.sigma, self.drift = sigma, drift
        ref_block = calendar.index(calendar.latest_on_or_before(REFERENCE_DAY)) // BLOCK
        self.ref = ref_block * BLOCK
        self.w_ref = _boundary(seed, key, ref_block)

    def w(self, n: int) -> float:
        """W of trading day n."""
        return _block(self.seed, self.key, n // BLOCK)[0][n % BLOCK]

    def factor(self, n: int, w: float) -> float:
        """Price relative to the reference level."""
        return math.exp(self.sigma * (w - self.w_ref) + self.drift * (n - self.ref))


class SimulatedMarket:
    """Prices and FX rates from the deterministic walk; implements PriceSource and FxSource."""

    name = "simulated"

    def __init__(
        self,
        *,
        seed: int = 7,
        faults: Faults | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.seed = seed
        self.faults = faults or Faults()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._fault_rng = random.Random(seed)
        self._walks: dict[str, _Walk] = {}
        self._latest: dict[tuple[int, int, datetime], date] = {}

    # --- fault injection ------------------------------------------------------------------
    async def _call(self) -> None:
        if self.faults.latency_seconds:
            await asyncio.sleep(self.faults.latency_seconds)
        draw = self._fault_rng.random()
        if draw < self.faults.error_rate:
            raise UpstreamUnavailable("simulated outage", source=self.name)
        if draw < self.faults.error_rate + self.faults.throttle_rate:
            raise Throttled("simulated throttling", source=self.name, retry_after=0.01)

    def latest_session(self, calendar: TradingCalendar, close_utc_hour: int) -> date:
        now = self.clock()
        key = (id(calendar), close_utc_hour, now.replace(minute=0, second=0, microsecond=0))
        latest = self._latest.get(key)
        if latest is None:  # sessions close on the hour: one computation per hour
            latest = last_closed_session(calendar, now, close_utc_hour=close_utc_hour)
            if self.faults.stale_days:
                latest = calendar.shift(latest, -self.faults.stale_days)
            self._latest[key] = latest
            if len(self._latest) > 8:
                self._latest = {key: latest}
        return latest

    def _walk(self, key: str, calendar: TradingCalendar, sigma: float, drift: float) -> _Walk:
        walk = self._walks.get(key)
        if walk is None:
            walk = self._walks[key] = _Walk(self.seed, key, calendar, sigma, drift)
        return walk

    # --- prices ---------------------------------------------------------------------------
    def _stock_profile(self, symbol: str) -> tuple[float, float, float]:
        level, volume = _STOCK_LEVELS.get(symbol, (0.0, 0.0))
        h = _stable_hash(symbol)
        if not level:
            level = 10.0 + (h % 49_000) / 100.0
            volume = 1e6 + (h % 50) * 1e6
        sigma = 0.012 + (h % 13) / 1000.0  # 1.2% .. 2.4% daily volatility
        return level, volume, sigma

    def bars(self, symbol: str, start: date, end: date) -> list[RawBar]:
        """The bars of [start, end] (inclusive) that exist by now; synchronous core."""
        end = min(end, self.latest_session(NYSE, close_utc_hour=21))
        days = NYSE.days(start, end)
        if not days:
            return []
        level, volume, sigma = self._stock_profile(symbol)
        walk = self._walk(symbol, NYSE, sigma, 0.0003)
        invalid_rate = self.faults.invalid_bar_rate
        first = NYSE.index(days[0])
        prev_close = level * walk.factor(first - 1, walk.w(max(0, first - 1)))
        # close = level * walk.factor(n, w), folded into one exp() per day
        offset = math.log(level) - sigma * walk.w_ref - walk.drift * walk.ref
        exp, gap, wick, drift, name = math.exp, 0.6 * sigma, 0.5 * sigma, walk.drift, self.name
        out: list[RawBar] = []
        append, new_bar, iso = out.append, tuple.__new__, _iso_day
        block_no = -1
        path: tuple[float, ...] = ()
        extras: tuple[int, ...] = ()
        for n, day in enumerate(days, start=first):
            if n // BLOCK != block_no:
                block_no = n // BLOCK
                path, extras = _block(walk.seed, walk.key, block_no)
            bits = extras[n % BLOCK]
            close = exp(sigma * path[n % BLOCK] + drift * n + offset)
            opened = prev_close * exp(((bits & 0xFFF) * _U12 - 0.5) * gap)
            high = (opened if opened > close else close) * exp((bits >> 12 & 0xFFF) * _U12 * wick)
            low = (close if opened > close else opened) * exp(-(bits >> 24 & 0xFFF) * _U12 * wick)
            shares = int(volume * exp(((bits >> 36 & 0xFFF) * _U12 - 0.5) * 0.8))
            if invalid_rate and (bits >> 48 & 0xFFF) * _U12 < invalid_rate:
                high, low = low, high  # a broken bar for the quality rules to catch
            o, h, lo, c = f"{opened:.4f} {high:.4f} {low:.4f} {close:.4f}".split()
            append(new_bar(RawBar, (symbol, iso(day), o, h, lo, c, str(shares), name)))
            prev_close = close
        return out

    async def fetch_bars(self, symbol: str, start: date, end: date) -> list[RawBar]:
        await self._call()
        return self.bars(symbol, start, end)

    # --- FX -------------------------------------------------------------------------------
    def _usd_walk(self, currency: str) -> tuple[float, _Walk | None]:
        if currency == "USD":
            return 1.0, None
        if currency not in _KNOWN_CURRENCIES:
            raise UnknownSymbol(f"simulated market has no currency {currency}", source=self.name)
        level = _FX_LEVELS.get(currency, 1.0 + (_stable_hash(currency) % 2000) / 100.0)
        return level, self._walk(f"FX:{currency}", FX_DAYS, 0.005, 0.0)

    def rates(self, base: str, quotes: list[str], start: date, end: date) -> list[RawRate]:
        end = min(end, self.latest_session(FX_DAYS, close_utc_hour=16))
        days = FX_DAYS.days(start, end)
        if not days:
            return []
        base_level, base_walk = self._usd_walk(base)
        legs = [(quote, *self._usd_walk(quote)) for quote in quotes if quote != base]
        first = FX_DAYS.index(days[0])
        out: list[RawRate] = []
        for offset, day in enumerate(days):
            n = first + offset
            base_usd = base_level * (base_walk.factor(n, base_walk.w(n)) if base_walk else 1)
            for quote, level, walk in legs:
                quote_usd = level * (walk.factor(n, walk.w(n)) if walk else 1.0)
                rate = quote_usd / base_usd
                out.append(RawRate(base, quote, day.isoformat(), f"{rate:.8g}", self.name))
        return out

    async def fetch_rates(
        self, base: str, quotes: list[str], start: date, end: date
    ) -> list[RawRate]:
        await self._call()
        return self.rates(base, quotes, start, end)
