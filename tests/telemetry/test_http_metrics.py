"""The HTTP middleware and /metrics on a small app of the test's own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import date

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.config import load_settings
from app.telemetry import Telemetry
from app.telemetry.catalog import Metrics
from app.telemetry.exposition import wants_openmetrics
from app.telemetry.freshness import SymbolFreshness
from app.telemetry.setup import attach
from tests.telemetry.conftest import value


def small_app(telemetry: Telemetry, freshness: SymbolFreshness | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    attach(app, telemetry, load_settings(), freshness)
    return app


def test_routes_are_templates_and_clients_cannot_create_series() -> None:
    telemetry = Telemetry(Metrics(process=False))
    with TestClient(small_app(telemetry), raise_server_exceptions=False) as client:
        for n in range(5):
            assert client.get(f"/items/{n}").status_code == 200
        assert client.get("/items/x").status_code == 422
        assert client.get("/boom").status_code == 500
        client.get("/random/path/1")
        client.get("/random/path/2")
        client.request("FROB", "/items/1")
        text = client.get("/metrics").text
    route = "/items/{item_id}"
    assert value(text, "tickerconv_http_requests_total", route=route, code="200") == 5
    assert value(text, "tickerconv_http_requests_total", route=route, code="422") == 1
    assert value(text, "tickerconv_http_requests_total", route="/boom", code="500") == 1
    assert value(text, "tickerconv_http_requests_total", route="unmatched", code="404") == 2
    assert value(text, "tickerconv_http_requests_total", route=route, method="other") == 1
    assert "/random" not in text and "FROB" not in text
    assert value(text, "tickerconv_http_requests_in_progress") == 1  # only the scrape itself


class SlowCollector(Collector):
    """A collector that takes `seconds` to collect, like a registry with many series."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def collect(self) -> Iterable[GaugeMetricFamily]:
        time.sleep(self.seconds)
        yield GaugeMetricFamily("slow_thing", "a slow gauge", value=1)


async def test_a_slow_scrape_does_not_stall_other_requests() -> None:
    telemetry = Telemetry(Metrics(process=False))
    telemetry.metrics.registry.register(SlowCollector(0.5))
    app = small_app(telemetry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:

        async def health_while_scraping() -> float:
            await asyncio.sleep(0.1)  # the scrape is under way by now
            start = time.perf_counter()
            assert (await client.get("/health")).status_code == 200
            return time.perf_counter() - start

        scrape, waited = await asyncio.gather(client.get("/metrics"), health_while_scraping())
    assert "slow_thing 1.0" in scrape.text
    assert waited < 0.25  # rendered in a worker thread: /health did not wait for it


def test_openmetrics_on_request_with_the_freshness_block_inside() -> None:
    freshness = SymbolFreshness(
        ["AAPL", "MSFT"], latest=lambda: date(2025, 3, 12), lag=lambda d, latest: 0.0
    )
    freshness.update({"AAPL": date(2025, 3, 12)})
    telemetry = Telemetry(Metrics(process=False))
    with TestClient(small_app(telemetry, freshness)) as client:
        om = client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        text = client.get("/metrics")
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert text.headers["content-type"].startswith("text/plain")
    assert om.text.endswith("# EOF\n") and om.text.count("# EOF") == 1
    assert 'tickerconv_symbol_lag_trading_days{symbol="MSFT"} 0' in om.text
    assert 'tickerconv_symbol_last_bar_timestamp_seconds{symbol="AAPL"} 1741737600' in text.text
    assert value(text.text, "tickerconv_symbol_last_bar_timestamp_seconds", symbol="MSFT") == 0
    assert wants_openmetrics("text/plain;q=0.5, application/openmetrics-text;version=1.0.0")
    assert not wants_openmetrics("*/*")
