"""Benchmark: the full ingestion pipeline against a raw SQLAlchemy Core bulk insert.

    python -m loadtest.bench_ingest [--db sqlite|postgres|both] [--symbols 5000] [--days 30]
                                    [--rounds 5] [--traced]

Each round ingests SYMBOLS x DAYS simulated bars through fetch -> parse -> validate ->
store -> publish (with the ledger, quality checks and idempotent upserts), and separately
inserts the very same rows with one `insert(daily_bar)` executemany in one transaction.
Both start from empty tables in the same database. The order alternates every round and the
simulated market's caches are cleared before each pipeline run, so it pays its generation cost
in full. Reported: rows/s of each and their ratio per round, and the median ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, insert, text

from app import db
from app.config import load_settings
from app.ingest.pipeline import Ingestor, Plan
from app.ingest.records import parse_bars
from app.market_calendar import NYSE
from app.models import daily_bar, ingest_run, quality_issue, symbol_table
from app.sources import simulated
from app.sources.registry import build_sources
from app.telemetry import Telemetry
from app.telemetry.setup import build_telemetry

NOW = datetime(2025, 3, 12, 22, 0, tzinfo=UTC)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(kind: str) -> Iterator[Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = db.make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            db.upgrade(engine)
            yield engine
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = db.make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        db.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (quality_issue, ingest_run, daily_bar, symbol_table):
            connection.execute(delete(table))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE daily_bar"))


def raw_rows(plan: Plan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    market = simulated.SimulatedMarket(seed=7, clock=lambda: NOW)
    raw = [bar for symbol, (start, end) in plan.items() for bar in market.bars(symbol, start, end)]
    bars, _ = parse_bars(raw)
    rows = [
        {
            "symbol": b.symbol,
            "day": b.day,
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": int(b.volume),
            "suspicious": False,
            "source": b.source,
            "ingested_at": NOW,
        }
        for b in bars
    ]
    symbols = [{"symbol": s, "currency": "USD", "created_at": NOW} for s in plan]
    return symbols, rows


def run_raw(engine: Engine, symbols: list[dict[str, Any]], rows: list[dict[str, Any]]) -> float:
    empty(engine)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(insert(symbol_table), symbols)
        connection.execute(insert(daily_bar), rows)
    return time.perf_counter() - started


def run_pipeline(engine: Engine, plan: Plan, expected: int, *, traced: bool = False) -> float:
    empty(engine)
    simulated._block.cache_clear()
    simulated._node.cache_clear()
    settings = load_settings(database_url=str(engine.url), symbols=list(plan)[:1])
    # Traced: what `serve` does by default (every run traced, spans kept in-process).
    telemetry = build_telemetry(settings, env={}) if traced else Telemetry.off()
    ingestor = Ingestor(
        engine=engine,
        sources=build_sources(settings, clock=lambda: NOW, telemetry=telemetry),
        settings=settings,
        clock=lambda: NOW,
        telemetry=telemetry,
    )

    async def go() -> int:
        try:
            result = await ingestor.run_prices(plan, job="bench")
        finally:
            await ingestor.sources.aclose()
        return result.totals.stored

    started = time.perf_counter()
    stored = asyncio.run(go())
    elapsed = time.perf_counter() - started
    if stored != expected:
        raise SystemExit(f"pipeline stored {stored} rows, expected {expected}")
    return elapsed


def bench(kind: str, n_symbols: int, n_days: int, rounds: int, *, traced: bool = False) -> float:
    end = NOW.date()
    start = NYSE.shift(end, -(n_days - 1))
    plan: Plan = {f"S{i:05d}": (start, end) for i in range(n_symbols)}
    symbols, rows = raw_rows(plan)
    print(
        f"\n{kind}: {n_symbols} symbols x {n_days} trading days = {len(rows):,} rows, "
        f"{rounds} rounds"
    )
    ratios = []
    with database(kind) as engine:
        for round_no in range(rounds):
            order = ("pipeline", "raw") if round_no % 2 == 0 else ("raw", "pipeline")
            seconds: dict[str, float] = {}
            for variant in order:
                if variant == "pipeline":
                    seconds[variant] = run_pipeline(engine, plan, len(rows), traced=traced)
                else:
                    seconds[variant] = run_raw(engine, symbols, rows)
            rate = {k: len(rows) / v for k, v in seconds.items()}
            ratio = rate["pipeline"] / rate["raw"]
            ratios.append(ratio)
            print(
                f"  round {round_no + 1} ({order[0]} first): "
                f"pipeline {rate['pipeline']:>9,.0f} rows/s  raw {rate['raw']:>9,.0f} rows/s  "
                f"ratio {ratio:.2f}"
            )
    median = statistics.median(ratios)
    print(f"  median ratio pipeline/raw on {kind}: {median:.2f}x (target >= 0.50x)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--traced", action="store_true", help="telemetry on, as `serve` runs it (no exporter)"
    )
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = {
        kind: bench(kind, args.symbols, args.days, args.rounds, traced=args.traced)
        for kind in kinds
    }
    print("\nsummary: " + ", ".join(f"{k} {v:.2f}x" for k, v in results.items()))


if __name__ == "__main__":
    main()
