"""Build a real Ingestor for tests: the configured sources, a pinned clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from app.config import load_settings
from app.ingest.pipeline import Ingestor
from app.models import daily_bar, fx_rate, ingest_run, quality_issue
from app.sources.registry import build_sources
from tests.conftest import NOW


def make_ingestor(engine: Engine, **overrides: Any) -> Ingestor:
    values: dict[str, Any] = {
        "database_url": str(engine.url.render_as_string(hide_password=False)),
        "symbols": "AAPL,MSFT,NVDA",
        "initial_backfill_days": 10,
        "source_backoff_seconds": 0.0,
        "source_retries": 1,
    }
    values.update(overrides)
    settings = load_settings(**values)
    sources = build_sources(settings, clock=lambda: NOW)
    return Ingestor(engine=engine, sources=sources, settings=settings, clock=lambda: NOW)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        )


__all__ = ["count", "daily_bar", "fx_rate", "ingest_run", "make_ingestor", "quality_issue"]
