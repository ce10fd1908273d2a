"""create_app(settings) -> FastAPI. The lifespan owns the database, sources and scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__, db
from app.api import health
from app.api.deps import Runtime
from app.config import Settings, get_settings
from app.ingest.leader import leader_lock
from app.ingest.pipeline import Ingestor
from app.ingest.scheduler import IngestScheduler
from app.sources.registry import build_sources


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.make_engine(settings.database_url)
        if settings.migrate_on_start:
            await asyncio.to_thread(db.upgrade, engine)
        sources = build_sources(settings)
        ingestor = Ingestor(engine=engine, sources=sources, settings=settings)
        scheduler = None
        if settings.scheduler_enabled:
            scheduler = IngestScheduler(ingestor, leader_lock(engine))
            await scheduler.start()
        app.state.runtime = Runtime(settings, engine, ingestor, scheduler)
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
        lifespan=lifespan,
    )
    app.include_router(health.router)
    return app
