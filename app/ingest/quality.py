"""Quality rules. Each has a stable name (a metric label and a `quality_issue.rule` value).

Hard rules quarantine the row; `daily_move` keeps the bar and marks it suspicious;
`missing_trading_days` reports gaps. Every rule counts each check as pass or fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

from app.ingest.records import Bar, Finding, Kind, Rate
from app.market_calendar import FX_DAYS, NYSE

PRICE_POSITIVE = "price_positive"
OHLC_CONSISTENT = "ohlc_consistent"
VOLUME_VALID = "volume_valid"
TRADING_DAY = "trading_day"
NOT_FUTURE = "not_future"
UNIQUE_KEY = "unique_key"
DAILY_MOVE = "daily_move"
MISSING_DAYS = "missing_trading_days"
FX_RATE_POSITIVE = "fx_rate_positive"
FX_RATE_MOVE = "fx_rate_move"
PARSEABLE = "parseable"

BAR_RULES = (
    PARSEABLE,
    PRICE_POSITIVE,
    OHLC_CONSISTENT,
    VOLUME_VALID,
    TRADING_DAY,
    NOT_FUTURE,
    UNIQUE_KEY,
    DAILY_MOVE,
    MISSING_DAYS,
)
FX_RULES = (PARSEABLE, FX_RATE_POSITIVE, TRADING_DAY, NOT_FUTURE, UNIQUE_KEY, FX_RATE_MOVE)
RULES = tuple(dict.fromkeys(BAR_RULES + FX_RULES))

_BAR_KEY = attrgetter("symbol", "day")
_RATE_KEY = attrgetter("base", "quote", "day")
MAX_DAILY_MOVE = Decimal("0.5")
MAX_FX_MOVE = Decimal("0.2")
MAX_VOLUME = 10**15  # well inside BIGINT; anything larger is a broken feed


@dataclass
class QualityReport:
    kind: Kind
    total: int = 0
    valid: list[Any] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checks: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return self.total - len(self.valid)

    def merge_parse_failures(self, failures: list[Finding]) -> None:
        self.total += len(failures)
        self.findings.extend(failures)
        self.checks[PARSEABLE, "fail"] += len(failures)


def _record(report: QualityReport, rule: str, ok: bool) -> bool:
    report.checks[rule, "pass" if ok else "fail"] += 1
    return ok


def _dedupe(rows: list[Any], key: Callable[[Any], tuple[Any, ...]]) -> tuple[list[Any], set[Any]]:
    """Identical duplicates collapse to one row; every variant of a conflicting key is kept
    (to be quarantined) and its key returned."""
    first: dict[tuple[Any, ...], Any] = {}
    distinct: list[Any] = []
    variants: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        k = key(row)
        seen = first.setdefault(k, row)
        if seen is row:
            distinct.append(row)
        elif seen != row and row not in variants.setdefault(k, [seen]):
            variants[k].append(row)
            distinct.append(row)
    return distinct, set(variants)


def _count(
    report: QualityReport, evaluated: int, failures: Counter[str], rules: Iterable[str]
) -> None:
    for rule in rules:
        report.checks[rule, "pass"] += evaluated - failures[rule]
        if failures[rule]:
            report.checks[rule, "fail"] += failures[rule]


def _payload(row: Bar | Rate) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else str(v)) for k, v in row._asdict().items()}


def validate_bars(
    bars: list[Bar],
    *,
    today: date,
    previous_close: dict[str, tuple[date, Decimal]],
    parse_failures: list[Finding] | None = None,
) -> QualityReport:
    """Check bars; `previous_close` holds each symbol's latest stored bar before this batch."""
    report = QualityReport("bar", total=len(bars))
    report.checks[PARSEABLE, "pass"] += len(bars)
    if parse_failures:
        report.merge_parse_failures(parse_failures)
    distinct, conflicting = _dedupe(bars, _BAR_KEY)
    report.total -= len(bars) - len(distinct)
    failures: Counter[str] = Counter()
    trading_day: dict[date, bool] = {}
    kept: list[Bar] = []
    for bar in distinct:  # the hot loop: one pass, failures counted, passes derived
        o, h, lo, c, v, day = bar.open, bar.high, bar.low, bar.close, bar.volume, bar.day
        is_day = trading_day.get(day)
        if is_day is None:
            is_day = trading_day[day] = NYSE.is_trading_day(day)
        if (  # the common case allocates nothing: a per-row list feeds the cyclic GC
            o > 0
            and lo > 0
            and lo <= o <= h
            and lo <= c <= h
            and 0 <= v < MAX_VOLUME
            and v == v.to_integral_value()
            and is_day
            and day <= today
            and not (conflicting and (bar.symbol, day) in conflicting)
        ):
            kept.append(bar)
            continue
        failed = []
        if not (o > 0 and h > 0 and lo > 0 and c > 0):
            failed.append(PRICE_POSITIVE)
        if not (lo <= o <= h and lo <= c <= h):
            failed.append(OHLC_CONSISTENT)
        if not (0 <= v < MAX_VOLUME and v == v.to_integral_value()):
            failed.append(VOLUME_VALID)
        if not is_day:
            failed.append(TRADING_DAY)
        if day > today:
            failed.append(NOT_FUTURE)
        if conflicting and (bar.symbol, day) in conflicting:
            failed.append(UNIQUE_KEY)
        if failed:
            failures.update(failed)
            payload = _payload(bar)
            report.findings.extend(Finding("bar", rule, bar.key, payload) for rule in failed)
        else:
            kept.append(bar)
    hard = (PRICE_POSITIVE, OHLC_CONSISTENT, VOLUME_VALID, TRADING_DAY, NOT_FUTURE, UNIQUE_KEY)
    _count(report, len(distinct), failures, hard)
    kept.sort(key=_BAR_KEY)
    _flag_moves(report, kept, previous_close)
    _find_gaps(report, kept, previous_close)
    report.valid = kept
    return report


def _flag_moves(
    report: QualityReport, bars: list[Bar], previous: dict[str, tuple[date, Decimal]]
) -> None:
    last_symbol, last_close = "", Decimal(0)
    for i, bar in enumerate(bars):
        if bar.symbol != last_symbol:
            last_symbol = bar.symbol
            prior = previous.get(bar.symbol)
            if prior is None or prior[0] >= bar.day:
                last_close = bar.close
                continue
            last_close = prior[1]
        move = abs(bar.close / last_close - 1) if last_close else Decimal(0)
        if not _record(report, DAILY_MOVE, move <= MAX_DAILY_MOVE):
            bar = bars[i] = bar._replace(suspicious=True)
            report.findings.append(
                Finding("bar", DAILY_MOVE, bar.key, _payload(bar), "warning", f"move {move:.2%}")
            )
        last_close = bar.close


def _find_gaps(
    report: QualityReport, bars: list[Bar], previous: dict[str, tuple[date, Decimal]]
) -> None:
    by_symbol: dict[str, list[date]] = {}
    for bar in bars:
        by_symbol.setdefault(bar.symbol, []).append(bar.day)
    for symbol, days in by_symbol.items():
        prior = previous.get(symbol)
        first = prior[0] if prior is not None and prior[0] < days[0] else days[0]
        present = set(days)
        if prior is not None:
            present.add(prior[0])
        missing = list(NYSE.iter_missing(present, first, days[-1]))
        if _record(report, MISSING_DAYS, not missing):
            continue
        report.findings.append(
            Finding(
                "bar",
                MISSING_DAYS,
                f"{symbol} {first.isoformat()}..{days[-1].isoformat()}",
                {"symbol": symbol, "missing": [d.isoformat() for d in missing]},
                "warning",
                f"{len(missing)} trading days missing",
            )
        )


def validate_rates(
    rates: list[Rate],
    *,
    today: date,
    previous_rate: dict[tuple[str, str], tuple[date, Decimal]],
    parse_failures: list[Finding] | None = None,
) -> QualityReport:
    report = QualityReport("fx", total=len(rates))
    report.checks[PARSEABLE, "pass"] += len(rates)
    if parse_failures:
        report.merge_parse_failures(parse_failures)
    distinct, conflicting = _dedupe(rates, _RATE_KEY)
    report.total -= len(rates) - len(distinct)
    candidates: list[Rate] = []
    for rate in distinct:
        failed = []
        if not _record(report, FX_RATE_POSITIVE, rate.rate > 0):
            failed.append(FX_RATE_POSITIVE)
        if not _record(report, TRADING_DAY, FX_DAYS.is_trading_day(rate.day)):
            failed.append(TRADING_DAY)
        if not _record(report, NOT_FUTURE, rate.day <= today):
            failed.append(NOT_FUTURE)
        if not _record(report, UNIQUE_KEY, (rate.base, rate.quote, rate.day) not in conflicting):
            failed.append(UNIQUE_KEY)
        for rule in failed:
            report.findings.append(Finding("fx", rule, rate.key, _payload(rate)))
        if not failed:
            candidates.append(rate)
    candidates.sort(key=_RATE_KEY)
    last_pair: tuple[str, str] = ("", "")
    last_rate: Decimal | None = None
    for rate in candidates:
        pair = (rate.base, rate.quote)
        if pair != last_pair:
            last_pair = pair
            prior = previous_rate.get(pair)
            last_rate = prior[1] if prior is not None and prior[0] < rate.day else None
        move = abs(rate.rate / last_rate - 1) if last_rate else Decimal(0)
        if _record(report, FX_RATE_MOVE, move <= MAX_FX_MOVE):
            report.valid.append(rate)
            last_rate = rate.rate  # a rejected rate never becomes the reference
        else:
            report.findings.append(
                Finding("fx", FX_RATE_MOVE, rate.key, _payload(rate), detail=f"move {move:.2%}")
            )
    return report
