"""An app on real data: the simulated market ingested through the real pipeline, clock pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import load_settings
from app.ingest.jobs import run_daily_fx, run_daily_prices
from app.main import create_app
from tests.conftest import NOW
from tests.ingest.helpers import make_ingestor


async def _seed(engine: Engine) -> None:
    ingestor = make_ingestor(
        engine, symbols="AAPL,MSFT,AMZN,GOOGL,META,NVDA,TSLA", initial_backfill_days=45
    )
    await run_daily_prices(ingestor)
    await run_daily_fx(ingestor)
    await ingestor.sources.aclose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    asyncio.run(_seed(engine))
    url = engine.url.render_as_string(hide_password=False)
    settings = load_settings(database_url=url, scheduler_enabled=False)
    with TestClient(
        create_app(settings, clock=lambda: NOW), raise_server_exceptions=False
    ) as test_client:
        yield test_client
