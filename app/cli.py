"""`ticker-converter`: serve, worker, ingest, backfill, db."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app import db
from app.config import Settings, SettingsError, get_settings, load_settings
from app.ingest.jobs import (
    BACKFILL_JOB,
    backfill_plan,
    fx_backfill_window,
    latest_bar_day,
    latest_rate_day,
    run_daily_fx,
    run_daily_prices,
)
from app.ingest.leader import leader_lock
from app.ingest.pipeline import Ingestor, RunResult
from app.ingest.scheduler import IngestScheduler
from app.market_calendar import NYSE
from app.models import utc_now
from app.sources.registry import build_sources
from app.telemetry.logging import configure_logging
from app.telemetry.redact import Redactor
from app.telemetry.setup import build_telemetry, instrument_io, serve_metrics

cli = typer.Typer(help="Ticker Converter: market data in your currency.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
console = Console(stderr=True)
T = TypeVar("T")


class Job(StrEnum):
    prices = "prices"
    fx = "fx"


class Kind(StrEnum):
    prices = "prices"
    fx = "fx"
    all = "all"


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides) if overrides else get_settings()
    except SettingsError as error:
        console.print(f"[red]invalid configuration[/red]\n{error}")
        raise typer.Exit(2) from None
    configure_logging(
        settings.log_level, fmt=settings.log_format, redact=Redactor(settings.secrets())
    )
    return settings


@asynccontextmanager
async def _ingestor(settings: Settings) -> AsyncIterator[Ingestor]:
    telemetry = build_telemetry(settings)
    engine = db.make_engine(settings.database_url)
    if settings.migrate_on_start:
        await asyncio.to_thread(db.upgrade, engine)
    sources = build_sources(settings, telemetry=telemetry)
    instrument_io(telemetry, settings, engine=engine, client=sources.client)
    try:
        yield Ingestor(engine=engine, sources=sources, settings=settings, telemetry=telemetry)
    finally:
        await sources.aclose()
        engine.dispose()
        telemetry.shutdown()  # flushes the runs' spans


def _run(coro_fn: Callable[[Ingestor], Awaitable[T]], settings: Settings) -> T:
    async def main() -> T:
        async with _ingestor(settings) as ingestor:
            return await coro_fn(ingestor)

    return asyncio.run(main())


def _report(result: RunResult) -> None:
    t = result.totals
    colour = {"success": "green", "partial": "yellow"}.get(result.outcome, "red")
    console.print(
        f"run {result.run_id} [{colour}]{result.outcome}[/{colour}] {result.job}: "
        f"fetched {t.fetched}, stored {t.stored}, unchanged {t.unchanged}, rejected {t.rejected}, "
        f"quality {t.quality_score if t.quality_score is not None else '-'}"
    )
    for error in t.errors[:10]:
        console.print(f"  [red]{error}[/red]")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    scheduler: Annotated[bool, typer.Option(help="Run the ingestion scheduler too.")] = True,
) -> None:
    """Serve the API (and, unless --no-scheduler, the ingestion scheduler)."""
    import uvicorn

    from app.main import create_app

    settings = _settings() if scheduler else _settings(scheduler_enabled=False)
    # log_config=None: uvicorn keeps the JSON handler installed above (access log included).
    uvicorn.run(
        create_app(settings, freeze_heap=True),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


@cli.command()
def worker(
    metrics_port: Annotated[
        int, typer.Option(help="Serve /metrics on 127.0.0.1:PORT (0: not at all).")
    ] = 9464,
) -> None:
    """Run only the ingestion scheduler (no API)."""
    settings = _settings()

    async def main(ingestor: Ingestor) -> None:
        if metrics_port and ingestor.telemetry.exposed:
            serve_metrics(ingestor.telemetry, settings, port=metrics_port)
        scheduler = IngestScheduler(ingestor, leader_lock(ingestor.engine))
        await scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            await scheduler.stop()

    try:
        _run(main, settings)
    except KeyboardInterrupt:
        console.print("worker stopped")


@cli.command()
def ingest(job: Annotated[Job, typer.Option(help="Which daily job to run now.")]) -> None:
    """Run one daily job now (what the scheduler would run)."""
    settings = _settings()
    result = _run(run_daily_prices if job is Job.prices else run_daily_fx, settings)
    _report(result)
    if result.outcome == "failed":
        raise typer.Exit(1)


@cli.command()
def backfill(
    days: Annotated[int | None, typer.Option(help="The last N trading days.", min=1)] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (default: latest).")] = None,
    symbols: Annotated[list[str] | None, typer.Option(help="Only these symbols.")] = None,
    kind: Kind = Kind.all,
) -> None:
    """Fetch history that is not stored yet. Resumable: stored days are skipped."""
    settings = _settings()
    now = utc_now()
    try:
        last = date.fromisoformat(end) if end else latest_bar_day(now)
        if days is not None and start is None:
            first = NYSE.shift(last, -(days - 1))
        elif start is not None and days is None:
            first = date.fromisoformat(start)
        else:
            raise ValueError("give exactly one of --days and --start")
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if first > last or last > now.date():
        console.print(
            f"[red]bad range {first}..{last}: start after end, or end in the future[/red]"
        )
        raise typer.Exit(2)
    chosen = [s.upper() for s in symbols] if symbols else settings.symbols

    async def main(ingestor: Ingestor) -> list[RunResult]:
        results = []
        if kind in (Kind.prices, Kind.all):
            plan = backfill_plan(ingestor.engine, chosen, first, last)
            console.print(f"prices: {len(plan)} of {len(chosen)} symbols have days missing")
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("symbols", total=len(plan))
                results.append(
                    await ingestor.run_prices(
                        plan, job=BACKFILL_JOB, on_batch=lambda n: progress.advance(task, n)
                    )
                )
        if kind in (Kind.fx, Kind.all):
            fx_last = min(last, latest_rate_day(now))
            window = fx_backfill_window(
                ingestor.engine, settings.fx_base, settings.quote_currencies, first, fx_last
            )
            if window is None:
                console.print("fx: nothing missing")
            else:
                results.append(await ingestor.run_fx(*window, job=BACKFILL_JOB))
        return results

    results = _run(main, settings)
    for result in results:
        _report(result)
    if any(r.outcome == "failed" for r in results):
        raise typer.Exit(1)


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = _settings()
    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine, revision)
    finally:
        engine.dispose()
    console.print(f"database at {revision}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
