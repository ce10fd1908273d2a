"""The store step: idempotent bulk upserts, quarantine inserts and the look-ups validation needs.

Every function takes an open `Connection`; the caller owns the transaction, so a batch's bars,
symbols and quality issues commit together or not at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from app.ingest.records import Bar, Finding, Rate
from app.models import daily_bar, fx_rate, quality_issue, symbol_table


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int  # inserted or changed
    unchanged: int


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


Columns = dict[str, list[Any]]


def _bind(
    connection: Connection, table: Table, columns: Columns, *, as_text: bool = False
) -> Columns:
    """Columns of Python values turned into driver values by each column's own bind
    processor (the TypeDecorator logic Core applies), column by column; with `as_text`,
    into the text PostgreSQL parses them from (None stays None)."""
    dialect = connection.dialect
    out: dict[str, list[Any]] = {}
    for name, values in columns.items():
        # The dialect's own variant of the type (what Core uses): on SQLite the decimals' impl
        # is text, while the generic type's Numeric would turn them into floats.
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        convert: Callable[[Any], Any] | None = process
        if as_text:
            convert = partial(_text, process)
        if convert is None or not values:
            out[name] = values
            continue
        head = values[:64]  # symbols, days, stamps repeat: convert each distinct value once
        if len(set(head)) * 4 < len(head):
            converted = {v: convert(v) for v in set(values)}
            out[name] = list(map(converted.__getitem__, values))
        else:
            out[name] = list(map(convert, values))
    return out


def _text(process: Callable[[Any], Any] | None, value: Any) -> str | None:
    if value is None:
        return None
    return str(process(value) if process else value)


# A joined array literal needs quoting when an element holds a brace, quote or backslash,
# starts or ends with whitespace, is empty, or reads NULL.
_UNSAFE = re.compile(r'[{}"\\]|\s,|,\s|^\s|\s$|(?:^|,)(?:null)?(?:,|$)', re.IGNORECASE)


def pg_array(texts: Sequence[str | None]) -> str:
    """A PostgreSQL array literal of `texts`, built with one join in the usual case
    (numbers, dates, codes): psycopg's list dumper walks every element in Python, which
    cost ~9 us per row of bars (profiled), more than the insert itself."""
    if None not in texts:
        joined = ",".join(texts)  # type: ignore[arg-type]
        if joined.count(",") == len(texts) - 1 and not _UNSAFE.search(joined):
            return "{" + joined + "}"
    quoted = (
        "NULL" if t is None else '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for t in texts
    )
    return "{" + ",".join(quoted) + "}"


def _upsert(
    connection: Connection,
    table: Table,
    columns: Columns,
    keys: Sequence[str],
    compare: Sequence[str],
) -> int:
    """INSERT .. ON CONFLICT (keys) DO UPDATE, only where a `compare` column differs.

    Returns how many rows were inserted or changed; unchanged rows are not rewritten and no
    row is read first. PostgreSQL gets one statement per batch over `unnest` of column arrays
    (a giant multi-VALUES statement costs psycopg more to parse than the server to run);
    SQLite gets the driver's executemany, whose rowcount sums the rows really changed.
    """
    postgres = connection.dialect.name == "postgresql"
    columns = _bind(connection, table, columns, as_text=postgres)
    names = list(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*compare, "source", "ingested_at"))
    changed = " OR ".join(f"{table.name}.{c} IS DISTINCT FROM excluded.{c}" for c in compare)
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates} WHERE {changed}"
    if postgres:
        dialect = connection.dialect
        casts = ", ".join(
            f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])" for c in names
        )
        sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts}) "
            f"{conflict} RETURNING 1"
        )
        literals = {c: pg_array(v) for c, v in columns.items()}  # one text per column
        return len(connection.execute(text(sql), literals).all())
    placeholders = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders}) {conflict}"
    result = connection.exec_driver_sql(sql, list(zip(*columns.values(), strict=True)))
    return int(result.rowcount)


def _transpose(records: list[Bar] | list[Rate], now: datetime) -> Columns:
    """NamedTuple records as columns named after their fields, plus the ingestion stamp."""
    fields = type(records[0])._fields
    columns: Columns = dict(zip(fields, map(list, zip(*records, strict=True)), strict=True))
    columns["ingested_at"] = [now] * len(records)
    return columns


def ensure_symbols(connection: Connection, symbols: Iterable[str], *, now: datetime) -> None:
    rows = [{"symbol": s, "currency": "USD", "created_at": now} for s in sorted(set(symbols))]
    if rows:
        connection.execute(_insert(connection, symbol_table).on_conflict_do_nothing(), rows)


def store_bars(connection: Connection, bars: list[Bar], *, now: datetime) -> Stored:
    if not bars:
        return Stored(0, 0)
    ensure_symbols(connection, {b.symbol for b in bars}, now=now)
    columns = _transpose(bars, now)
    columns["volume"] = [int(v) for v in columns["volume"]]
    compare = ("open", "high", "low", "close", "volume", "suspicious")
    changed = _upsert(connection, daily_bar, columns, ("symbol", "day"), compare)
    return Stored(changed, len(bars) - changed)


def store_rates(connection: Connection, rates: list[Rate], *, now: datetime) -> Stored:
    if not rates:
        return Stored(0, 0)
    columns = _transpose(rates, now)
    changed = _upsert(connection, fx_rate, columns, ("base", "quote", "day"), ("rate",))
    return Stored(changed, len(rates) - changed)


def store_findings(
    connection: Connection, findings: list[Finding], *, run_id: int | None, now: datetime
) -> None:
    if not findings:
        return
    rows = [
        {
            "run_id": run_id,
            "kind": f.kind,
            "rule": f.rule,
            "severity": f.severity,
            "key": f.key[:64],
            "payload": json.dumps({"row": f.payload, "detail": f.detail}, sort_keys=True),
            "detected_at": now,
        }
        for f in findings
    ]
    connection.execute(quality_issue.insert(), rows)


def previous_closes(
    connection: Connection, symbols: Iterable[str], before: dict[str, date]
) -> dict[str, tuple[date, Decimal]]:
    """Each symbol's latest stored (day, close) strictly before `before[symbol]`."""
    wanted = sorted(set(symbols))
    if not wanted:
        return {}
    latest = (
        select(daily_bar.c.symbol, func.max(daily_bar.c.day).label("day"))
        .where(daily_bar.c.symbol.in_(wanted))
        .group_by(daily_bar.c.symbol)
    )
    limits = {s: before[s] for s in wanted}
    # One grouped query per distinct cut-off keeps it a handful of statements per batch.
    out: dict[str, tuple[date, Decimal]] = {}
    for cutoff in sorted(set(limits.values())):
        group = [s for s in wanted if limits[s] == cutoff]
        sub = latest.where(daily_bar.c.day < cutoff, daily_bar.c.symbol.in_(group)).subquery()
        query = select(daily_bar.c.symbol, daily_bar.c.day, daily_bar.c.close).join(
            sub, and_(daily_bar.c.symbol == sub.c.symbol, daily_bar.c.day == sub.c.day)
        )
        for symbol, day, close in connection.execute(query):
            out[symbol] = (day, close)
    return out


def previous_rates(
    connection: Connection, pairs: Iterable[tuple[str, str]], before: date
) -> dict[tuple[str, str], tuple[date, Decimal]]:
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    pair = tuple_(fx_rate.c.base, fx_rate.c.quote)
    sub = (
        select(fx_rate.c.base, fx_rate.c.quote, func.max(fx_rate.c.day).label("day"))
        .where(pair.in_(wanted), fx_rate.c.day < before)
        .group_by(fx_rate.c.base, fx_rate.c.quote)
        .subquery()
    )
    query = select(fx_rate.c.base, fx_rate.c.quote, fx_rate.c.day, fx_rate.c.rate).join(
        sub,
        and_(
            fx_rate.c.base == sub.c.base, fx_rate.c.quote == sub.c.quote, fx_rate.c.day == sub.c.day
        ),
    )
    return {(b, q): (d, r) for b, q, d, r in connection.execute(query)}


def last_bar_days(connection: Connection, symbols: Iterable[str]) -> dict[str, date]:
    query = (
        select(daily_bar.c.symbol, func.max(daily_bar.c.day))
        .where(daily_bar.c.symbol.in_(sorted(set(symbols))))
        .group_by(daily_bar.c.symbol)
    )
    return {s: d for s, d in connection.execute(query)}


def last_rate_days(connection: Connection, base: str, quotes: Iterable[str]) -> dict[str, date]:
    query = (
        select(fx_rate.c.quote, func.max(fx_rate.c.day))
        .where(fx_rate.c.base == base, fx_rate.c.quote.in_(sorted(set(quotes))))
        .group_by(fx_rate.c.quote)
    )
    return {q: d for q, d in connection.execute(query)}


def stored_bar_days(
    connection: Connection, symbols: Iterable[str], start: date, end: date
) -> dict[str, set[date]]:
    query = select(daily_bar.c.symbol, daily_bar.c.day).where(
        daily_bar.c.symbol.in_(sorted(set(symbols))), daily_bar.c.day.between(start, end)
    )
    out: dict[str, set[date]] = {}
    for symbol, day in connection.execute(query):
        out.setdefault(symbol, set()).add(day)
    return out


def stored_rate_days(
    connection: Connection, base: str, quotes: Iterable[str], start: date, end: date
) -> dict[str, set[date]]:
    query = select(fx_rate.c.quote, fx_rate.c.day).where(
        fx_rate.c.base == base,
        fx_rate.c.quote.in_(sorted(set(quotes))),
        fx_rate.c.day.between(start, end),
    )
    out: dict[str, set[date]] = {}
    for quote, day in connection.execute(query):
        out.setdefault(quote, set()).add(day)
    return out
