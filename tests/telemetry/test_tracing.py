"""Span trees of ingest runs and requests, exemplars that point at real spans."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from app.config import load_settings
from app.main import create_app
from app.telemetry.setup import build_telemetry
from app.telemetry.tracing import default_sampler, exporters
from tests.telemetry.conftest import Stack

TRACE = "0af7651916cd43dd8448eb211c80319c"


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} is a root"
    (found,) = [s for s in spans if s.context.span_id == span.parent.span_id]
    return found


def test_an_ingest_run_is_one_trace_with_a_span_per_step_and_provider_call(stack: Stack) -> None:
    runs = {r["job"]: r for r in stack.wait_for_runs(2)}
    spans = stack.spans.get_finished_spans()
    roots = {s.attributes["job"]: s for s in by_name(spans, "ingest.run")}
    assert set(roots) == {"prices_daily", "fx_daily"}
    for job, root in roots.items():
        assert root.parent is None
        assert root.attributes["run_id"] == runs[job]["id"]
        assert root.attributes["outcome"] == "success"
        # The ledger row names the run's trace.
        assert runs[job]["trace_id"] == format(root.context.trace_id, "032x")

    prices = roots["prices_daily"]
    in_run = tuple(s for s in spans if s.context.trace_id == prices.context.trace_id)
    for step in ("fetch", "parse", "validate", "store", "publish"):
        (span,) = by_name(in_run, f"ingest.{step}")
        assert parent_of(span, in_run) is prices, step
    (call,) = by_name(in_run, "source.fetch")
    assert dict(call.attributes or {}) == {
        "source": "alphavantage",
        "operation": "fetch_bars",
        "symbol": "IBM",
    }
    assert parent_of(call, in_run).name == "ingest.fetch"
    (http,) = [s for s in in_run if s.name == "GET" and parent_of(s, in_run) is call]
    assert "SECRET" not in str(dict(http.attributes or {}))  # the API key is masked
    sql = [s for s in in_run if (s.attributes or {}).get("db.system") == "sqlite"]
    assert sql and all(s.context.trace_id == prices.context.trace_id for s in sql)


def test_a_failing_provider_is_an_error_span_and_the_next_one_answers(stack: Stack) -> None:
    stack.wait_for_runs(2)
    spans = stack.spans.get_finished_spans()
    (fx_run,) = [s for s in by_name(spans, "ingest.run") if s.attributes["job"] == "fx_daily"]
    in_run = tuple(s for s in spans if s.context.trace_id == fx_run.context.trace_id)
    calls = sorted(by_name(in_run, "source.fetch"), key=lambda s: s.start_time or 0)
    assert [c.attributes["source"] for c in calls] == ["alphavantage", "frankfurter"]
    failed, answered = calls
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.events and failed.events[0].name == "exception"
    assert failed.events[0].attributes["exception.type"].endswith("UpstreamUnavailable")
    assert answered.status.status_code is StatusCode.UNSET
    assert fx_run.status.status_code is StatusCode.UNSET  # the run itself succeeded


def test_a_conversion_is_one_server_span_with_convert_children(stack: Stack) -> None:
    stack.wait_for_runs(2)
    stack.spans.clear()
    assert stack.client.get("/api/v1/convert?amount=10&from=USD&to=GBP").status_code == 200
    spans = stack.spans.get_finished_spans()
    (server,) = [s for s in spans if s.name == "GET /api/v1/convert"]
    children = {s.name for s in spans if s.parent and s.parent.span_id == server.context.span_id}
    assert children == {"convert.rate", "convert.compute"}
    assert not [s for s in spans if "http send" in s.name or "http receive" in s.name]
    stack.client.get("/health")
    stack.client.get("/metrics")
    assert not [
        s for s in stack.spans.get_finished_spans() if "/health" in s.name or "/metrics" in s.name
    ]


def test_request_exemplars_name_finished_spans(stack: Stack) -> None:
    stack.wait_for_runs(2)
    for _ in range(3):
        stack.client.get("/api/v1/convert?amount=10&from=USD&to=GBP")
    text = stack.scrape(openmetrics=True)
    assert text.endswith("# EOF\n")
    found = re.findall(
        r'^tickerconv_http_request_duration_seconds_bucket\{[^}]*route="/api/v1/convert"[^}]*\} '
        r'\S+ # \{trace_id="([0-9a-f]{32})"\}',
        text,
        re.MULTILINE,
    )
    assert found
    traces = {format(s.context.trace_id, "032x") for s in stack.spans.get_finished_spans()}
    assert set(found) <= traces
    run_exemplars = re.findall(
        r'^tickerconv_ingest_run_duration_seconds_bucket\{[^}]*\} \S+ # \{trace_id="(\w+)"\}',
        text,
        re.MULTILINE,
    )
    assert run_exemplars and set(run_exemplars) <= traces
    assert "# {" not in stack.scrape(openmetrics=False)  # the text format has no exemplars


def test_the_default_sampler_and_exporters_follow_otel_variables() -> None:
    sampler = default_sampler({})
    assert sampler is not None
    assert "TraceIdRatioBased{0.1}" in sampler.get_description()
    assert (
        "TraceIdRatioBased{0.5}"
        in default_sampler({"OTEL_TRACES_SAMPLER_ARG": "0.5"}).get_description()
    )  # type: ignore[union-attr]
    assert default_sampler({"OTEL_TRACES_SAMPLER": "always_on"}) is None  # the SDK builds it
    assert exporters({}) == []  # no endpoint: nothing leaves the process
    assert (
        exporters({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}) == []
    )
    (otlp,) = exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert type(otlp).__name__ == "FastOTLPSpanExporter"
    assert otlp._endpoint == "http://127.0.0.1:4318/v1/traces"


def test_requests_are_traced_by_the_parent_based_ratio_decided_up_front(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ticker.db'}", scheduler_enabled=False
    )
    env = {"OTEL_TRACES_SAMPLER_ARG": "0"}  # no request is traced on its own account
    telemetry = build_telemetry(settings, processors=[SimpleSpanProcessor(exporter)], env=env)
    sampled, unsampled = (f"00-{TRACE}-00f067aa0ba902b7-0{flag}" for flag in (1, 0))
    with TestClient(create_app(settings, telemetry=telemetry)) as client:
        client.get("/api/v1/currencies")
        client.get("/api/v1/currencies", headers={"traceparent": unsampled})
        assert exporter.get_finished_spans() == ()
        client.get("/api/v1/currencies", headers={"traceparent": sampled})
        client.get("/health", headers={"traceparent": sampled})  # probes: never
        (span,) = exporter.get_finished_spans()
    assert span.name == "GET /api/v1/currencies"
    assert format(span.context.trace_id, "032x") == TRACE
    telemetry.shutdown()
