"""The running app's /metrics against the catalog, after one scheduled ingest and a few calls."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from app import __version__
from app.config import load_settings
from app.ingest.quality import PARSEABLE
from app.main import create_app
from app.telemetry.catalog import (
    CATALOG,
    HTTP_BUCKETS,
    NAMESPACE,
    exposed_name,
)
from tests.conftest import NOW
from tests.telemetry.conftest import Stack, samples, value

DAY_12 = datetime(2025, 3, 12, tzinfo=UTC).timestamp()


def exercise(stack: Stack) -> str:
    stack.wait_for_runs(2)  # the leader's catch-up runs: prices_daily and fx_daily
    get = stack.client.get
    assert get("/api/v1/convert?amount=100&from=USD&to=GBP").status_code == 200
    assert get("/api/v1/convert?amount=5&from=usd&to=gbp").status_code == 200
    assert get("/api/v1/convert?amount=1&from=GBP&to=USD").status_code == 200
    assert get("/api/v1/convert?amount=1&from=USD&to=XYZ").status_code == 404
    assert get("/no/such/page/12345").status_code == 404
    return stack.scrape()


def test_every_catalog_metric_is_exposed_and_nothing_else(stack: Stack) -> None:
    exposed = samples(exercise(stack))
    ours = {name for name in exposed if name.startswith(f"{NAMESPACE}_")}
    catalog = {exposed_name(spec) for spec in CATALOG}
    assert ours - catalog == set(), "exposed but not in the catalog"
    assert catalog - ours == set(), "in the catalog but never exposed"
    for spec in CATALOG:
        family = exposed[exposed_name(spec)]
        assert family, f"{spec.name} has no samples"
        for sample in family:
            assert set(sample.labels) - {"le"} == set(spec.labels), (spec.name, sample.labels)
    assert "process_cpu_seconds_total" in exposed and "python_info" in exposed


def test_counters_move_by_what_happened(stack: Stack) -> None:
    text = exercise(stack)
    convert = {"route": "/api/v1/convert", "method": "GET"}
    assert value(text, "tickerconv_http_requests_total", code="200", **convert) == 3
    assert value(text, "tickerconv_http_requests_total", code="404", **convert) == 1
    assert value(text, "tickerconv_http_requests_total", code="404", route="unmatched") == 1
    assert value(text, "tickerconv_http_request_duration_seconds_count", **convert) == 4
    assert value(text, "tickerconv_http_requests_in_progress") == 1  # this scrape
    assert value(text, "tickerconv_conversions_total", from_currency="USD", to_currency="GBP") == 2
    assert value(text, "tickerconv_conversions_total", from_currency="GBP", to_currency="USD") == 1
    assert value(text, "tickerconv_conversion_rate_age_seconds_count") == 3

    for job in ("prices_daily", "fx_daily"):
        assert value(text, "tickerconv_ingest_runs_total", job=job, outcome="success") == 1
        assert value(text, "tickerconv_ingest_runs_total", job=job, outcome="failed") == 0
        assert value(text, "tickerconv_ingest_run_duration_seconds_count", job=job) == 1
        assert value(text, "tickerconv_ingest_last_success_timestamp_seconds", job=job) > 0
        assert value(text, "tickerconv_scheduler_job_events_total", job=job, event="executed") == 1
        assert value(text, "tickerconv_scheduler_job_events_total", job=job, event="error") == 0
        assert 0 <= value(text, "tickerconv_scheduler_job_lag_seconds", job=job) < 10
    assert value(text, "tickerconv_scheduler_leader") == 1
    # IBM 2025-03-11..12 from Alpha Vantage; USD/GBP 03-11..12 of Frankfurter's series.
    assert value(text, "tickerconv_ingest_records_total", kind="prices", result="stored") == 2
    assert value(text, "tickerconv_ingest_records_total", kind="fx", result="stored") == 3
    assert value(text, "tickerconv_ingest_records_total", kind="prices", result="rejected") == 0
    assert value(text, "tickerconv_quality_checks_total", rule=PARSEABLE, result="pass") == 5
    assert value(text, "tickerconv_data_quality_ratio", kind="prices") == 1
    for step in ("fetch", "parse", "validate", "store", "publish"):
        assert value(text, "tickerconv_ingest_step_duration_seconds_count", step=step) == 2

    av = {"source": "alphavantage"}
    assert (
        value(text, "tickerconv_source_requests_total", operation="fetch_bars", outcome="ok", **av)
        == 1
    )
    assert (
        value(
            text,
            "tickerconv_source_requests_total",
            operation="fetch_rates",
            outcome="unavailable",
            **av,
        )
        == 1
    )
    assert (
        value(
            text,
            "tickerconv_source_requests_total",
            source="frankfurter",
            operation="fetch_rates",
            outcome="ok",
        )
        == 1
    )
    assert value(text, "tickerconv_source_failovers_total", kind="fx") == 1
    assert value(text, "tickerconv_source_failovers_total", kind="prices") == 0
    assert value(text, "tickerconv_source_circuit_state", **av) == 0
    assert value(text, "tickerconv_source_quota_remaining", **av) == 25 - 2
    assert (
        value(
            text, "tickerconv_source_request_duration_seconds_count", operation="fetch_bars", **av
        )
        == 1
    )

    assert value(text, "tickerconv_symbol_last_bar_timestamp_seconds", symbol="IBM") == DAY_12
    assert value(text, "tickerconv_symbol_lag_trading_days", symbol="IBM") == 0
    assert (
        value(text, "tickerconv_fx_last_rate_timestamp_seconds", base="USD", quote="GBP") == DAY_12
    )
    # At start-up, and once more when the FX run published new rates.
    assert value(text, "tickerconv_rate_cache_refreshes_total", result="ok") == 2
    assert value(text, "tickerconv_build_info", version=__version__) == 1


def test_latency_buckets_include_the_slo_thresholds() -> None:
    assert {0.025, 0.05, 0.1, 0.25, 0.5, 1.0} <= set(HTTP_BUCKETS)


def test_catalog_names_follow_the_conventions() -> None:
    for spec in CATALOG:
        assert spec.name.startswith(f"{NAMESPACE}_") and "." not in spec.name
        if spec.type == "counter":
            assert spec.name.endswith("_total"), spec.name
        if spec.type == "histogram":
            assert spec.name.endswith("_seconds"), spec.name
        assert not {"path", "url", "user", "amount", "trace_id"} & set(spec.labels), spec.name
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)


def test_series_exist_before_the_first_event(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ticker.db'}", scheduler_enabled=False
    )
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        text = client.get("/metrics").text  # nothing ingested, nothing converted yet
    exposed = samples(text)
    for spec in CATALOG:
        assert exposed[exposed_name(spec)], f"{spec.name} has no series yet"
    assert value(text, "tickerconv_ingest_runs_total", job="prices_daily", outcome="failed") == 0
    assert value(text, "tickerconv_source_failovers_total", kind="fx") == 0
    # The simulated market has no daily quota.
    assert value(text, "tickerconv_source_quota_remaining", source="simulated") == math.inf
    assert value(text, "tickerconv_symbol_lag_trading_days", symbol="AAPL") == math.inf
    assert value(text, "tickerconv_scheduler_leader") == 0
    assert value(text, "tickerconv_http_requests_total", route="/api/v1/convert", code="500") == 0
