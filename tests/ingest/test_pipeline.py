from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from app.ingest import ledger, quality
from app.ingest.events import DataStored
from app.ingest.jobs import backfill_plan, run_daily_fx, run_daily_prices
from app.ingest.pipeline import Ingestor
from app.models import symbol_table
from app.sources.registry import build_sources
from tests.conftest import NOW
from tests.ingest.helpers import count, daily_bar, fx_rate, ingest_run, make_ingestor, quality_issue
from tests.sources import payloads
from tests.upstream import FakeUpstream, Reply, Request

ROOT = Path(__file__).resolve().parents[2]


async def test_daily_run_stores_history_and_rerun_changes_nothing(engine: Engine) -> None:
    ingestor = make_ingestor(engine)
    first = await run_daily_prices(ingestor)
    assert first.outcome == ledger.SUCCESS
    assert (first.totals.fetched, first.totals.stored, first.totals.rejected) == (30, 30, 0)
    assert count(engine, daily_bar) == 30
    run = ledger.get_run(engine, first.run_id)
    assert (run.job, run.outcome, run.sources, run.stored) == (
        "prices_daily",
        "success",
        "simulated",
        30,
    )
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.quality_score == 1

    up_to_date = await run_daily_prices(ingestor)
    assert (up_to_date.outcome, up_to_date.totals.fetched) == (ledger.SUCCESS, 0)

    plan = backfill_plan(engine, ["AAPL"], date(2025, 2, 1), date(2025, 3, 12))
    assert plan == {"AAPL": (date(2025, 2, 3), date(2025, 2, 26))}  # only the missing days
    again = await ingestor.run_prices(
        {"AAPL": (date(2025, 2, 27), date(2025, 3, 12))}, job="backfill"
    )
    assert (again.totals.stored, again.totals.unchanged) == (0, 10)
    assert count(engine, daily_bar) == 30


async def test_invalid_bars_are_quarantined_with_their_run(engine: Engine) -> None:
    ingestor = make_ingestor(engine, simulated_invalid_bar_rate=0.3, initial_backfill_days=40)
    result = await run_daily_prices(ingestor)
    rejected = result.totals.rejected
    assert 0 < rejected < 120 and result.totals.stored == 120 - rejected
    assert result.checks[quality.OHLC_CONSISTENT, "fail"] == rejected
    assert count(engine, daily_bar) == 120 - rejected
    assert (
        count(
            engine,
            quality_issue,
            quality_issue.c.rule == "ohlc_consistent",
            quality_issue.c.run_id == result.run_id,
        )
        == rejected
    )
    expected = (Decimal(120 - rejected) / Decimal(120)).quantize(Decimal("0.000001"))
    assert ledger.get_run(engine, result.run_id).quality_score == expected
    with engine.connect() as connection:
        kept = connection.execute(select(daily_bar.c.high, daily_bar.c.low)).all()
    assert all(high >= low for high, low in kept)


async def test_stored_data_is_published_to_subscribers(engine: Engine) -> None:
    ingestor = make_ingestor(engine)
    events: list[DataStored] = []
    ingestor.publisher.subscribe(events.append)

    async def failing(_: DataStored) -> None:
        raise RuntimeError("a broken subscriber must not break ingestion")

    ingestor.publisher.subscribe(failing)
    await run_daily_prices(ingestor)
    await run_daily_fx(ingestor)
    assert [e.kind for e in events] == ["bar", "fx"]
    assert events[0].keys == {"AAPL", "MSFT", "NVDA"} and events[0].last_day == date(2025, 3, 12)
    assert "USD/GBP" in events[1].keys


async def test_fx_run_stores_every_quote_and_is_idempotent(engine: Engine) -> None:
    ingestor = make_ingestor(engine)
    first = await run_daily_fx(ingestor)
    assert first.outcome == ledger.SUCCESS and first.totals.stored == 6 * 10
    assert count(engine, fx_rate) == 60
    again = await ingestor.run_fx(date(2025, 3, 3), date(2025, 3, 12), job="backfill")
    assert (again.totals.stored, again.totals.unchanged) == (0, 48)


def av_upstream(request: Request) -> Reply:
    if request.params.get("symbol") == "IBM":
        return Reply(body=payloads.DAILY)
    if request.params.get("symbol") == "DOWN":
        return Reply(503, body="")
    return Reply(body=payloads.INVALID_CALL)


async def test_partial_and_failed_runs_with_a_real_provider(engine: Engine) -> None:
    with FakeUpstream(av_upstream) as server:
        ingestor = make_ingestor(
            engine,
            symbols="IBM,NOPE",
            alphavantage_api_key="SECRET-KEY-4242",
            alphavantage_base_url=server.url,
            alphavantage_calls_per_minute=1000,
            source_retries=0,
        )
        partial = await ingestor.run_prices(
            {
                "IBM": (date(2025, 3, 11), date(2025, 3, 12)),
                "NOPE": (date(2025, 3, 11), date(2025, 3, 12)),
            },
            job="prices_daily",
        )
        assert partial.outcome == ledger.PARTIAL and partial.totals.stored == 2
        assert any("NOPE" in e and "Invalid API call" in e for e in partial.totals.errors)
        failed = await ingestor.run_prices(
            {"DOWN": (date(2025, 3, 11), date(2025, 3, 12))}, job="prices_daily"
        )
        assert failed.outcome == ledger.FAILED
        run = ledger.get_run(engine, failed.run_id)
        assert run.outcome == "failed" and "HTTP 503" in (run.error_summary or "")
        assert "SECRET-KEY-4242" not in (
            run.error_summary or ""
        )  # the key never reaches the ledger
        assert all("SECRET-KEY-4242" not in e for e in partial.totals.errors)
        await ingestor.sources.aclose()


def crash(engine: Engine, mode: str) -> int:
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "tests.ingest.crash_runner", url, mode],
        cwd=ROOT,
        timeout=60,
        capture_output=True,
    )
    return done.returncode


async def test_a_crash_between_batches_keeps_whole_batches_and_resumes(engine: Engine) -> None:
    assert crash(engine, "between") == 17
    assert count(engine, daily_bar) == 10  # exactly the first batch (one symbol, ten days)
    assert count(engine, ingest_run, ingest_run.c.finished_at.is_(None)) == 1
    assert ledger.close_abandoned(engine, older_than=timedelta(0)) == 1
    resumed = await run_daily_prices(make_ingestor(engine))
    assert (resumed.totals.fetched, resumed.totals.stored) == (20, 20)  # stored days are skipped
    assert count(engine, daily_bar) == 30


async def test_a_crash_inside_a_batch_leaves_nothing_of_it(engine: Engine) -> None:
    assert crash(engine, "mid-batch") == 17
    assert count(engine, daily_bar) == 0
    assert (
        count(engine, symbol_table) == 0
    )  # the symbols upserted earlier in the batch are gone too
    assert count(engine, ingest_run) == 1  # the ledger row was committed before the batch


async def test_an_outage_of_the_only_provider_is_a_failed_run(engine: Engine) -> None:
    ingestor = make_ingestor(engine, simulated_error_rate=1.0, source_retries=2)
    result = await run_daily_prices(ingestor)
    assert result.outcome == ledger.FAILED and count(engine, daily_bar) == 0
    assert len(result.totals.errors) == 3


def test_ingestor_is_built_from_settings(sqlite_engine: Engine) -> None:
    ingestor = make_ingestor(sqlite_engine)
    assert isinstance(ingestor, Ingestor)
    assert ingestor.sources.prices.names == ["simulated"]
    assert build_sources(ingestor.settings).fx.names == ["simulated"]
    assert NOW.tzinfo is not None
