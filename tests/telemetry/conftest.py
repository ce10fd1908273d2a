"""A traced, metered service against fake upstreams: Alpha Vantage for prices and as the
first FX provider (which fails: 503), Frankfurter as the FX fallback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.config import Settings, load_settings
from app.main import create_app
from app.telemetry import Telemetry
from app.telemetry.setup import build_telemetry
from tests.conftest import NOW
from tests.sources import payloads
from tests.upstream import FakeUpstream, Reply, Request

API_KEY = "SECRET-AV-KEY-7781"
ALWAYS = {"OTEL_TRACES_SAMPLER_ARG": "1.0"}  # our default sampler at 100%


def alphavantage(request: Request) -> Reply:
    if request.params.get("function") == "TIME_SERIES_DAILY":
        return Reply(body=payloads.DAILY)
    return Reply(503, body="")  # FX_DAILY: down, so FX fails over to Frankfurter


def frankfurter(request: Request) -> Reply:
    return Reply(body=payloads.FRANKFURTER_SERIES)


@dataclass
class Stack:
    settings: Settings
    telemetry: Telemetry
    spans: InMemorySpanExporter
    client: TestClient
    av: FakeUpstream

    def wait_for_runs(self, n: int, limit: float = 15.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            runs = self.client.get("/api/v1/ingest/runs").json()["items"]
            if len([r for r in runs if r["finished_at"]]) >= n:
                return list(runs)
            time.sleep(0.05)
        raise AssertionError(f"{n} ingest runs did not finish within {limit}s")

    def scrape(self, openmetrics: bool = False) -> str:
        accept = "application/openmetrics-text; version=1.0.0" if openmetrics else "text/plain"
        response = self.client.get("/metrics", headers={"Accept": accept})
        assert response.status_code == 200
        return response.text


def samples(text: str) -> dict[str, list[Sample]]:
    """Family name (as exposed, counters with `_total`) -> its samples."""
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        name = family.name + ("_total" if family.type == "counter" else "")
        if family.type == "info":
            name += "_info"
        out[name] = list(family.samples)
    return out


def value(text: str, name: str, **labels: str) -> float:
    """The one sample called `name` whose labels include `labels`."""
    found = [
        s.value
        for family in samples(text).values()
        for s in family
        if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with FakeUpstream(alphavantage) as av, FakeUpstream(frankfurter) as fr:
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path / 'ticker.db'}",
            symbols="IBM",
            currencies="USD,GBP",
            price_sources="alphavantage",
            fx_sources="alphavantage,frankfurter",
            alphavantage_api_key=API_KEY,
            alphavantage_base_url=av.url,
            frankfurter_base_url=fr.url,
            initial_backfill_days=2,
            source_retries=0,
            source_backoff_seconds=0.0,
        )
        exporter = InMemorySpanExporter()
        telemetry = build_telemetry(
            settings, processors=[SimpleSpanProcessor(exporter)], env=ALWAYS
        )
        app = create_app(settings, clock=lambda: NOW, telemetry=telemetry)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Stack(settings, telemetry, exporter, client, av)
        telemetry.shutdown()
