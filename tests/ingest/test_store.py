from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, select, text

from app.ingest.records import Bar, Rate
from app.ingest.store import (
    last_bar_days,
    pg_array,
    previous_closes,
    previous_rates,
    store_bars,
    store_rates,
)
from app.models import daily_bar, fx_rate

NOW = datetime(2025, 3, 12, 22, 0, tzinfo=UTC)


def bars(close: str = "248.35") -> list[Bar]:
    return [
        Bar(
            "AAPL",
            date(2025, 3, 11),
            Decimal("250"),
            Decimal("252.08"),
            Decimal("247.14"),
            Decimal("248.65"),
            Decimal(4436187),
            "t",
        ),
        Bar(
            "AAPL",
            date(2025, 3, 12),
            Decimal("248.61"),
            Decimal("249.9"),
            Decimal("246.13"),
            Decimal(close),
            Decimal(3810240),
            "t",
        ),
    ]


def test_upsert_is_idempotent_and_counts_changes(engine: Engine) -> None:
    with engine.begin() as connection:
        assert store_bars(connection, bars(), now=NOW).stored == 2
    with engine.begin() as connection:
        again = store_bars(connection, bars(), now=NOW + timedelta(hours=1))
    assert (again.stored, again.unchanged) == (0, 2)
    with engine.begin() as connection:
        corrected = store_bars(connection, bars(close="248.36"), now=NOW)
    assert (corrected.stored, corrected.unchanged) == (1, 1)
    with engine.connect() as connection:
        rows = connection.execute(select(daily_bar).order_by(daily_bar.c.day)).all()
    assert len(rows) == 2
    assert rows[1].close == Decimal("248.360000") and isinstance(rows[1].close, Decimal)
    assert rows[1].ingested_at == NOW  # the correction re-stamped the row
    assert rows[0].ingested_at == NOW  # the unchanged one kept its original stamp


def test_decimals_and_times_round_trip_exactly(engine: Engine) -> None:
    precise = Decimal("0.123456789012")
    plus_two = timezone(timedelta(hours=2))
    with engine.begin() as connection:
        store_rates(
            connection,
            [Rate("USD", "GBP", date(2025, 3, 12), precise, "t")],
            now=NOW.astimezone(plus_two),
        )
    with engine.connect() as connection:
        row = connection.execute(select(fx_rate)).one()
    assert row.rate == precise
    assert row.ingested_at == NOW and row.ingested_at.tzinfo is not None
    assert row.ingested_at.utcoffset() == timedelta(0)


def test_lookups_for_validation(engine: Engine) -> None:
    with engine.begin() as connection:
        store_bars(connection, bars(), now=NOW)
        store_rates(
            connection,
            [Rate("USD", "GBP", date(2025, 3, d), Decimal(f"0.7{d}"), "t") for d in (10, 11)],
            now=NOW,
        )
    with engine.connect() as connection:
        assert previous_closes(
            connection, ["AAPL", "MSFT"], {"AAPL": date(2025, 3, 12), "MSFT": date(2025, 3, 12)}
        ) == {"AAPL": (date(2025, 3, 11), Decimal("248.650000"))}
        assert last_bar_days(connection, ["AAPL"]) == {"AAPL": date(2025, 3, 12)}
        assert previous_rates(connection, [("USD", "GBP")], date(2025, 3, 11)) == {
            ("USD", "GBP"): (date(2025, 3, 10), Decimal("0.71"))
        }


@pytest.mark.parametrize(
    "values",
    [
        ["AAPL", "BRK.B", "X-1"],
        [Decimal("248.610000"), Decimal("-0.000001"), Decimal("1E+2")],
        [date(2025, 3, 12), date(2024, 2, 29)],
        [True, False],
        [datetime(2025, 3, 12, 22, tzinfo=UTC)],
        ["a,b", 'say "hi"', "back\\slash", "{brace}", " lead", "trail ", "", "NULL", "null"],
        ["ok", None, "also ok"],
    ],
)
def test_array_literals_round_trip_through_postgresql(pg_url: str, values: list[object]) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as connection:
            back = connection.execute(
                text("SELECT CAST(:v AS text[])"),
                {"v": pg_array([None if v is None else str(v) for v in values])},
            ).scalar_one()
    finally:
        engine.dispose()
    assert back == [None if v is None else str(v) for v in values]


def test_prices_and_rates_keep_every_digit_and_their_canonical_text(engine: Engine) -> None:
    """18 significant digits survive the bulk store (a float on the way would keep ~15)."""
    big = Decimal("123456789012.123457")
    rate = Decimal("123456789012.123456789012")
    bar = Bar("AAPL", date(2025, 3, 12), big, big, Decimal("1.5"), Decimal("2.25"), Decimal(7), "t")
    with engine.begin() as connection:
        store_bars(connection, [bar], now=NOW)
        store_rates(connection, [Rate("USD", "GBP", date(2025, 3, 12), rate, "t")], now=NOW)
    with engine.connect() as connection:
        stored = connection.execute(select(daily_bar)).one()
        assert (stored.open, stored.low) == (big, Decimal("1.500000"))
        assert connection.execute(select(fx_rate.c.rate)).scalar_one() == rate
        if engine.dialect.name == "sqlite":  # canonical text at the column's scale
            raw = connection.execute(text("SELECT open, low FROM daily_bar")).one()
            assert tuple(raw) == ("123456789012.123457", "1.500000")
