"""Spans leave the process over OTLP/HTTP: a local receiver decodes what the exporter sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import __version__
from app.config import load_settings
from app.main import create_app
from app.telemetry.setup import build_telemetry
from app.telemetry.tracing import TracingError, exporters
from loadtest.otlp_sink import OtlpSink
from tests.conftest import NOW


def test_spans_reach_an_otlp_http_receiver(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ticker.db'}",
        initial_backfill_days=3,
        environment="test",
    )
    with OtlpSink(decode=True) as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "OTEL_TRACES_SAMPLER_ARG": "1"}
        telemetry = build_telemetry(settings, env=env)
        app = create_app(settings, clock=lambda: NOW, telemetry=telemetry)
        with TestClient(app) as client:
            deadline = time.monotonic() + 15
            while len(client.get("/api/v1/ingest/runs").json()["items"]) < 2:
                assert time.monotonic() < deadline, "catch-up runs did not start"
                time.sleep(0.05)
            while not all(
                r["finished_at"] for r in client.get("/api/v1/ingest/runs").json()["items"]
            ):
                assert time.monotonic() < deadline, "catch-up runs did not finish"
                time.sleep(0.05)
            assert client.get("/api/v1/convert?amount=3&from=USD&to=EUR").status_code == 200
        telemetry.shutdown()  # flushes the batch processor
    names = {s.name for s in sink.spans}
    assert {
        "ingest.run",
        "ingest.store",
        "source.fetch",
        "GET /api/v1/convert",
        "convert.rate",
    } <= names
    assert {s.service for s in sink.spans} == {"ticker-converter"}
    assert sink.resources[0]["deployment.environment"] == "test"
    assert sink.resources[0]["service.version"] == __version__
    (convert,) = [s for s in sink.spans if s.name == "GET /api/v1/convert"]
    (rate,) = [s for s in sink.spans if s.name == "convert.rate"]
    assert rate.trace_id == convert.trace_id and rate.parent_span_id == convert.span_id
    assert rate.attributes == {"from_currency": "USD", "to_currency": "EUR"}
    assert sink.requests >= 1


def test_unsupported_exporter_settings_fail_clearly() -> None:
    with pytest.raises(TracingError, match="only http/protobuf"):
        exporters(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )
    with pytest.raises(TracingError, match="unknown exporter 'zipkin'"):
        exporters({"OTEL_TRACES_EXPORTER": "zipkin"})
