"""The ingestion pipeline: fetch -> parse -> validate -> store -> publish.

Each step is a named function so telemetry can wrap it. Symbols are processed in batches of
about `ingest_batch_rows` rows; parse, validate and store of one batch run in a worker thread
inside one database transaction, so a crash leaves whole batches or nothing, and the event
loop is never blocked. Re-running any window is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from app.config import Settings
from app.ingest import ledger
from app.ingest.events import DataStored, Publisher
from app.ingest.quality import QualityReport, validate_bars, validate_rates
from app.ingest.records import parse_bars, parse_rates
from app.ingest.store import (
    Stored,
    previous_closes,
    previous_rates,
    store_bars,
    store_findings,
    store_rates,
)
from app.market_calendar import NYSE
from app.models import utc_now
from app.sources.base import FxSource, PriceSource, RawBar, RawRate, SourceError
from app.sources.failover import FailoverChain
from app.sources.registry import Sources
from app.telemetry import Telemetry
from app.telemetry.catalog import OPERATIONS
from app.telemetry.logging import run_context

Plan = dict[str, tuple[date, date]]  # symbol -> (start, end), inclusive


@dataclass
class RunResult:
    run_id: int
    job: str
    outcome: str
    totals: ledger.RunTotals
    checks: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class Fetched:
    bars: list[RawBar] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    errors: dict[str, SourceError] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    report: QualityReport
    stored: Stored


# --- steps ------------------------------------------------------------------------------
async def fetch_bars(chain: FailoverChain[PriceSource], plan: Plan, concurrency: int) -> Fetched:
    """Fetch every symbol of `plan` through the failover chain; errors are kept per symbol.
    `concurrency` workers share the plan (not one task per symbol: 5,000 symbols would be
    5,000 tasks to create and schedule)."""
    out = Fetched()
    todo = iter(plan.items())

    async def one(symbol: str, start: date, end: date) -> None:
        try:
            bars, used = await chain.call(
                lambda s: s.fetch_bars(symbol, start, end),
                operation=OPERATIONS["prices"],
                symbol=symbol,
            )
        except SourceError as error:
            out.errors[symbol] = error
            return
        out.bars.extend(bars)
        out.sources.add(used)

    async def worker() -> None:
        for symbol, (start, end) in todo:  # one shared iterator: each symbol is taken once
            await one(symbol, start, end)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(plan))):
            group.create_task(worker())
    return out


async def fetch_rates(
    chain: FailoverChain[FxSource], base: str, quotes: list[str], start: date, end: date
) -> tuple[list[RawRate], str]:
    return await chain.call(
        lambda s: s.fetch_rates(base, quotes, start, end), operation=OPERATIONS["fx"], base=base
    )


def process_bars(
    engine: Engine,
    raw: list[RawBar],
    *,
    run_id: int,
    today: date,
    now: datetime,
    telemetry: Telemetry | None = None,
) -> BatchResult:
    """parse -> validate -> store for one batch, in one transaction."""
    telemetry = telemetry or Telemetry.off()
    with telemetry.step("parse", rows=len(raw)):
        bars, unparseable = parse_bars(raw)
    first: dict[str, date] = {}
    for bar in bars:
        if bar.symbol not in first or bar.day < first[bar.symbol]:
            first[bar.symbol] = bar.day
    with engine.begin() as connection:
        with telemetry.step("validate", rows=len(bars)):
            previous = previous_closes(connection, first, first)
            report = validate_bars(
                bars, today=today, previous_close=previous, parse_failures=unparseable
            )
        with telemetry.step("store", rows=len(report.valid)):
            stored = store_bars(connection, report.valid, now=now)
            store_findings(connection, report.findings, run_id=run_id, now=now)
    return BatchResult(report, stored)


def process_rates(
    engine: Engine,
    raw: list[RawRate],
    *,
    run_id: int,
    today: date,
    now: datetime,
    telemetry: Telemetry | None = None,
) -> BatchResult:
    telemetry = telemetry or Telemetry.off()
    with telemetry.step("parse", rows=len(raw)):
        rates, unparseable = parse_rates(raw)
    with engine.begin() as connection:
        with telemetry.step("validate", rows=len(rates)):
            before = min((r.day for r in rates), default=today)
            previous = previous_rates(connection, {(r.base, r.quote) for r in rates}, before)
            report = validate_rates(
                rates, today=today, previous_rate=previous, parse_failures=unparseable
            )
        with telemetry.step("store", rows=len(report.valid)):
            stored = store_rates(connection, report.valid, now=now)
            store_findings(connection, report.findings, run_id=run_id, now=now)
    return BatchResult(report, stored)


async def publish(publisher: Publisher, result: BatchResult, run_id: int) -> None:
    rows = result.report.valid
    if not rows or not result.stored.stored:
        return
    if result.report.kind == "bar":
        keys = frozenset(r.symbol for r in rows)
    else:
        keys = frozenset(f"{r.base}/{r.quote}" for r in rows)
    days = [r.day for r in rows]
    await publisher.publish(DataStored(result.report.kind, keys, min(days), max(days), run_id))


def _batches(plan: Plan, calendar_rows: Callable[[date, date], int], limit: int) -> list[Plan]:
    batches: list[Plan] = []
    current: Plan = {}
    rows = 0
    for symbol, span in plan.items():
        size = max(1, calendar_rows(*span))
        if current and rows + size > limit:
            batches.append(current)
            current, rows = {}, 0
        current[symbol] = span
        rows += size
    if current:
        batches.append(current)
    return batches


def _outcome(planned: int, failed: int) -> str:
    if planned and failed >= planned:
        return ledger.FAILED
    return ledger.PARTIAL if failed else ledger.SUCCESS


def _add(totals: ledger.RunTotals, checks: Counter[tuple[str, str]], result: BatchResult) -> None:
    totals.stored += result.stored.stored
    totals.unchanged += result.stored.unchanged
    totals.rejected += result.report.rejected
    totals.valid += len(result.report.valid)
    totals.checked += result.report.total
    checks.update(result.report.checks)


def record_run(telemetry: Telemetry, run: RunResult, kind: str, seconds: float) -> None:
    """A finished run's metrics: outcome, duration, records, quality."""
    m, totals = telemetry.metrics, run.totals
    m.ingest_runs.labels(run.job, run.outcome).inc()
    m.ingest_run_duration.labels(run.job).observe(seconds, telemetry.exemplar())
    if run.outcome == ledger.SUCCESS:
        m.ingest_last_success.labels(run.job).set(time.time())
    for result, count in (
        ("stored", totals.stored),
        ("unchanged", totals.unchanged),
        ("rejected", totals.rejected),
    ):
        m.ingest_records.labels(kind, result).inc(count)
    for (rule, result), count in run.checks.items():
        m.quality_checks.labels(rule, result).inc(count)
    if totals.checked:
        m.quality_ratio.labels(kind).set(totals.valid / totals.checked)


# --- runs -------------------------------------------------------------------------------
class Ingestor:
    """Runs ingestion jobs against one database with one set of sources."""

    def __init__(
        self,
        *,
        engine: Engine,
        sources: Sources,
        settings: Settings,
        publisher: Publisher | None = None,
        clock: Callable[[], datetime] = utc_now,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.engine, self.sources, self.settings = engine, sources, settings
        self.publisher = publisher or Publisher()
        self.clock = clock
        self.telemetry = telemetry or Telemetry.off()
        self._locks = {"bar": asyncio.Lock(), "fx": asyncio.Lock()}

    @asynccontextmanager
    async def _ledgered(self, job: str, kind: str) -> AsyncIterator[RunResult]:
        """One run: an `ingest.run` span, its ledger row (closed with the result's outcome,
        or as failed when the body raises) and its metrics."""
        telemetry = self.telemetry
        start = time.perf_counter()
        with telemetry.span("ingest.run", job=job) as span:
            run_id = await asyncio.to_thread(
                ledger.open_run, self.engine, job, trace_id=telemetry.trace_id()
            )
            span.set_attribute("run_id", run_id)
            result = RunResult(run_id, job, ledger.SUCCESS, ledger.RunTotals())
            with run_context(run_id):
                try:
                    yield result
                except BaseException as error:
                    result.outcome = ledger.FAILED
                    result.totals.errors.append(f"{type(error).__name__}: {error}")
                    raise
                finally:
                    await asyncio.to_thread(
                        ledger.close_run,
                        self.engine,
                        run_id,
                        outcome=result.outcome,
                        totals=result.totals,
                    )
                    span.set_attribute("outcome", result.outcome)
                    record_run(telemetry, result, kind, time.perf_counter() - start)

    async def run_prices(
        self, plan: Plan, *, job: str, on_batch: Callable[[int], None] | None = None
    ) -> RunResult:
        """Ingest `plan`; `on_batch` is told how many symbols each finished batch held."""
        batches = _batches(plan, lambda a, b: len(NYSE.days(a, b)), self.settings.ingest_batch_rows)

        async def fetch_batch(batch: Plan) -> Fetched:
            with self.telemetry.step("fetch", symbols=len(batch)):
                return await fetch_bars(
                    self.sources.prices, batch, self.settings.ingest_concurrency
                )

        def fetch(batch: Plan) -> asyncio.Task[Fetched]:
            return asyncio.create_task(fetch_batch(batch))

        async with self._locks["bar"], self._ledgered(job, "prices") as run:
            totals, failed_symbols = run.totals, 0
            # One batch of look-ahead: batch i+1 is fetched while batch i is stored.
            upcoming = fetch(batches[0]) if batches else None
            try:
                for i, batch in enumerate(batches):
                    assert upcoming is not None
                    fetched = await upcoming
                    upcoming = fetch(batches[i + 1]) if i + 1 < len(batches) else None
                    totals.fetched += len(fetched.bars)
                    totals.sources |= fetched.sources
                    totals.errors += [f"{s}: {e}" for s, e in sorted(fetched.errors.items())]
                    failed_symbols += len(fetched.errors)
                    now = self.clock()
                    result = await asyncio.to_thread(
                        process_bars,
                        self.engine,
                        fetched.bars,
                        run_id=run.run_id,
                        today=now.date(),
                        now=now,
                        telemetry=self.telemetry,
                    )
                    _add(totals, run.checks, result)
                    with self.telemetry.step("publish"):
                        await publish(self.publisher, result, run.run_id)
                    if on_batch:
                        on_batch(len(batch))
            finally:
                if upcoming is not None:  # only when the loop was left by an exception
                    upcoming.cancel()
                    await asyncio.gather(upcoming, return_exceptions=True)
            run.outcome = _outcome(len(plan), failed_symbols)
        return run

    async def run_fx(self, start: date, end: date, *, job: str) -> RunResult:
        base, quotes = self.settings.fx_base, self.settings.quote_currencies
        async with self._locks["fx"], self._ledgered(job, "fx") as run:
            if not quotes or start > end:
                return run
            try:
                with self.telemetry.step("fetch"):
                    raw, used = await fetch_rates(self.sources.fx, base, quotes, start, end)
            except SourceError as error:
                raw, used = [], ""
                run.totals.errors.append(f"{base}: {error}")
                run.outcome = ledger.FAILED
            run.totals.fetched += len(raw)
            if used:
                run.totals.sources.add(used)
            now = self.clock()
            result = await asyncio.to_thread(
                process_rates,
                self.engine,
                raw,
                run_id=run.run_id,
                today=now.date(),
                now=now,
                telemetry=self.telemetry,
            )
            _add(run.totals, run.checks, result)
            with self.telemetry.step("publish"):
                await publish(self.publisher, result, run.run_id)
        return run
