from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.ingest import quality
from app.ingest.records import Bar, Rate, parse_bars, parse_rates
from app.sources.base import RawBar, RawRate

TODAY = date(2025, 3, 12)


def bar(
    day: str = "2025-03-11",
    o: str = "10",
    h: str = "11",
    lo: str = "9",
    c: str = "10.5",
    v: str = "100",
    symbol: str = "AAPL",
) -> Bar:
    bars, bad = parse_bars([RawBar(symbol, day, o, h, lo, c, v, "test")])
    assert not bad
    return bars[0]


def check(
    *bars: Bar, previous: dict[str, tuple[date, Decimal]] | None = None
) -> quality.QualityReport:
    return quality.validate_bars(list(bars), today=TODAY, previous_close=previous or {})


def test_a_clean_bar_passes_every_rule() -> None:
    report = check(bar())
    assert len(report.valid) == 1 and report.findings == []
    for rule in (
        quality.PRICE_POSITIVE,
        quality.OHLC_CONSISTENT,
        quality.VOLUME_VALID,
        quality.TRADING_DAY,
        quality.NOT_FUTURE,
        quality.UNIQUE_KEY,
    ):
        assert report.checks[rule, "pass"] == 1 and report.checks[rule, "fail"] == 0


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ({"lo": "0", "o": "1"}, quality.PRICE_POSITIVE),
        ({"lo": "-1"}, quality.PRICE_POSITIVE),
        ({"h": "10.2"}, quality.OHLC_CONSISTENT),  # close above high
        ({"lo": "10.1"}, quality.OHLC_CONSISTENT),  # open below low
        ({"v": "-5"}, quality.VOLUME_VALID),
        ({"v": "12.5"}, quality.VOLUME_VALID),
        ({"v": "1e18"}, quality.VOLUME_VALID),
        ({"day": "2025-03-15"}, quality.TRADING_DAY),  # Saturday
        ({"day": "2025-04-18"}, quality.TRADING_DAY),  # Good Friday
        ({"day": "2025-03-13"}, quality.NOT_FUTURE),
    ],
)
def test_each_hard_rule_quarantines_its_row(row: dict[str, str], rule: str) -> None:
    report = check(bar(**row))
    assert report.valid == []
    assert rule in {f.rule for f in report.findings}
    assert all(f.severity == "rejected" for f in report.findings)
    assert report.checks[rule, "fail"] == 1
    assert report.rejected == 1


def test_unparseable_numbers_are_quarantined_not_fatal() -> None:
    bars, bad = parse_bars(
        [
            RawBar("AAPL", "2025-03-11", "n/a", "1", "1", "1", "1", "t"),
            RawBar("AAPL", "2025-03-10", "NaN", "1", "1", "1", "1", "t"),
            RawBar("AAPL", "11/03/2025", "1", "1", "1", "1", "1", "t"),
            RawBar("AAPL", "2025-03-07", "1", "1", "1", "1", "1", "t"),
        ]
    )
    assert len(bars) == 1 and [f.rule for f in bad] == ["parseable"] * 3
    report = quality.validate_bars(bars, today=TODAY, previous_close={}, parse_failures=bad)
    assert report.total == 4 and report.rejected == 3
    assert report.checks["parseable", "fail"] == 3


def test_duplicates_collapse_when_identical_and_are_quarantined_when_conflicting() -> None:
    same = check(bar(), bar())
    assert len(same.valid) == 1 and same.total == 1
    conflict = check(bar(c="10.5"), bar(c="10.6"))
    assert conflict.valid == []
    assert [f.rule for f in conflict.findings] == [quality.UNIQUE_KEY] * 2


def test_large_daily_move_is_stored_but_suspicious() -> None:
    report = check(bar("2025-03-10", c="10"), bar("2025-03-11", o="15", h="16", lo="14", c="15.1"))
    assert len(report.valid) == 2
    flagged = [b for b in report.valid if b.suspicious]
    assert [b.day for b in flagged] == [date(2025, 3, 11)]
    warning = next(f for f in report.findings if f.rule == quality.DAILY_MOVE)
    assert warning.severity == "warning" and "51.00%" in warning.detail


def test_daily_move_uses_the_previous_stored_close() -> None:
    report = check(
        bar("2025-03-11", o="20", h="21", lo="19", c="20"),
        previous={"AAPL": (date(2025, 3, 10), Decimal("10"))},
    )
    assert report.valid[0].suspicious


def test_missing_trading_days_are_reported_as_warnings() -> None:
    report = check(
        bar("2025-03-05"), bar("2025-03-10"), previous={"AAPL": (date(2025, 3, 3), Decimal("10"))}
    )
    gap = next(f for f in report.findings if f.rule == quality.MISSING_DAYS)
    assert gap.severity == "warning"
    assert gap.payload["missing"] == ["2025-03-04", "2025-03-06", "2025-03-07"]
    assert len(report.valid) == 2  # a gap does not reject the bars around it
    assert check(bar("2025-03-07"), bar("2025-03-10")).checks[quality.MISSING_DAYS, "pass"] == 1


def rate(day: str = "2025-03-11", value: str = "0.78", quote: str = "GBP") -> Rate:
    rates, bad = parse_rates([RawRate("USD", quote, day, value, "t")])
    assert not bad
    return rates[0]


def test_fx_rules() -> None:
    ok = quality.validate_rates([rate()], today=TODAY, previous_rate={})
    assert len(ok.valid) == 1
    for value, rule in (("0", quality.FX_RATE_POSITIVE), ("-0.7", quality.FX_RATE_POSITIVE)):
        assert (
            quality.validate_rates([rate(value=value)], today=TODAY, previous_rate={})
            .findings[0]
            .rule
            == rule
        )
    weekend = quality.validate_rates([rate(day="2025-03-09")], today=TODAY, previous_rate={})
    assert weekend.findings[0].rule == quality.TRADING_DAY
    future = quality.validate_rates([rate(day="2025-03-13")], today=TODAY, previous_rate={})
    assert future.findings[0].rule == quality.NOT_FUTURE


def test_fx_move_beyond_twenty_percent_is_rejected_and_never_becomes_the_reference() -> None:
    previous = {("USD", "GBP"): (date(2025, 3, 7), Decimal("0.78"))}
    report = quality.validate_rates(
        [rate("2025-03-10", "0.99"), rate("2025-03-11", "0.79")],
        today=TODAY,
        previous_rate=previous,
    )
    assert [r.day for r in report.valid] == [date(2025, 3, 11)]
    assert [f.rule for f in report.findings] == [quality.FX_RATE_MOVE]
    assert report.checks[quality.FX_RATE_MOVE, "fail"] == 1
