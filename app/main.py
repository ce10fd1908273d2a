"""create_app(settings) -> FastAPI. The lifespan owns the database, sources and scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from app import __version__, db
from app.api import convert, currencies, errors, fx, health, ingest, stocks
from app.api.deps import Runtime
from app.config import Settings, get_settings
from app.convert.rates import RateBook
from app.ingest.events import DataStored
from app.ingest.leader import leader_lock
from app.ingest.pipeline import Ingestor
from app.ingest.scheduler import IngestScheduler
from app.models import utc_now
from app.sources.registry import build_sources


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The app; `clock` is "now" for every default date (tests pin it)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.make_engine(settings.database_url)
        if settings.migrate_on_start:
            await asyncio.to_thread(db.upgrade, engine)
        rates = RateBook(pivot=settings.fx_base)
        try:
            await asyncio.to_thread(rates.load, engine)
        except Exception:  # the database may be down: /ready says so, the book stays empty
            errors.log.exception("could not load FX rates at start-up")
        sources = build_sources(settings, clock=clock)
        ingestor = Ingestor(engine=engine, sources=sources, settings=settings, clock=clock)

        async def refresh_rates(event: DataStored) -> None:
            if event.kind == "fx":
                await asyncio.to_thread(rates.load, engine)

        ingestor.publisher.subscribe(refresh_rates)
        scheduler = None
        if settings.scheduler_enabled:
            scheduler = IngestScheduler(ingestor, leader_lock(engine))
            await scheduler.start()
        app.state.runtime = Runtime(settings, engine, ingestor, scheduler, rates, clock)
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await sources.aclose()
            engine.dispose()

    app = FastAPI(
        title="Ticker Converter",
        version=__version__,
        summary="Daily stock bars and FX rates, converted into the currency you ask for.",
        description="Amounts and rates are decimal strings. Errors share one shape: "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
    )
    errors.install(app)
    # The hot path first: FastAPI matches routes in order, and each route it tries costs
    # measurably per request. No other path overlaps /api/v1/convert.
    for module in (convert, health, fx, currencies, stocks, ingest):
        app.include_router(module.router)
    return app
