"""What becomes of sampled spans is counted: exported, failed (the receiver refused them) or
dropped (the export queue was full while the receiver stalled), against a real OTLP/HTTP
receiver on 127.0.0.1."""

from __future__ import annotations

import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider

from app.telemetry.catalog import SPAN_OUTCOMES, TRACE_SPANS, Metrics
from app.telemetry.tracing import TracingError, make_provider
from loadtest.otlp_sink import OtlpSink


def _provider(metrics: Metrics, **env: str) -> TracerProvider:
    return make_provider(
        version="1",
        environment="test",
        outcomes=metrics.trace_spans,
        env={"OTEL_TRACES_SAMPLER_ARG": "1", **env},
    )


def _outcomes(metrics: Metrics) -> dict[str, float | None]:
    return {
        outcome: metrics.registry.get_sample_value(TRACE_SPANS.name, {"outcome": outcome})
        for outcome in SPAN_OUTCOMES
    }


def _spans(provider: TracerProvider, n: int, name: str = "work") -> None:
    tracer = provider.get_tracer("test")
    for _ in range(n):
        with tracer.start_as_current_span(name):
            pass


def _export(metrics: Metrics, n: int, path: str = "/v1/traces", **env: str) -> OtlpSink:
    """`n` spans through a provider whose exporter targets `path` on a real receiver."""
    with OtlpSink(decode=True) as sink:
        provider = _provider(
            metrics, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=sink.endpoint + path, **env
        )
        _spans(provider, n)
        provider.force_flush()
        provider.shutdown()
    return sink


def test_exported_spans_are_counted() -> None:
    metrics = Metrics(process=False)
    sink = _export(metrics, 5)
    assert len(sink.spans) == 5
    assert _outcomes(metrics) == {"exported": 5.0, "failed": 0.0, "dropped": 0.0}


def test_spans_the_receiver_refuses_are_counted_as_failed() -> None:
    metrics = Metrics(process=False)
    sink = _export(metrics, 3, path="/v1/nowhere")  # answers 404: not retried
    assert sink.spans == []
    assert _outcomes(metrics) == {"exported": 0.0, "failed": 3.0, "dropped": 0.0}


def test_spans_a_full_queue_drops_are_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(process=False)
    hold = threading.Event()
    with OtlpSink(decode=True, hold=hold) as sink:
        try:
            # A queue of 8 (the batch size follows it down from 256).
            provider = _provider(
                metrics, OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, OTEL_BSP_MAX_QUEUE_SIZE="8"
            )
            _spans(provider, 8, "first")  # a full batch: the worker sends it, the sink stalls
            assert sink.holding.wait(10), "the first batch was not sent"
            _spans(provider, 22, "later")  # 8 wait in the queue, 14 find it full
            assert _outcomes(metrics)["dropped"] == 14.0
        finally:
            hold.set()
        provider.shutdown()  # sends the 8 that waited
    assert len(sink.spans) == 16
    assert [s.name for s in sink.spans].count("first") == 8
    assert _outcomes(metrics) == {"exported": 16.0, "failed": 0.0, "dropped": 14.0}
    # The count is the signal: the SDK logs the first of a run of drops, not one per span.
    assert [r.getMessage() for r in caplog.records].count("Queue full, dropping Span.") == 1


def test_spans_that_are_not_sampled_are_not_counted() -> None:
    metrics = Metrics(process=False)
    sink = _export(metrics, 4, OTEL_TRACES_SAMPLER_ARG="0")
    assert sink.spans == [] and sink.requests == 0
    assert _outcomes(metrics) == {"exported": 0.0, "failed": 0.0, "dropped": 0.0}


def test_a_queue_size_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(TracingError, match="OTEL_BSP_MAX_QUEUE_SIZE must be an integer"):
        _provider(
            Metrics(process=False),
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
            OTEL_BSP_MAX_QUEUE_SIZE="many",
        )
