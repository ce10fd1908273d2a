"""Our OTLP encoder writes what the official one writes: decoded with opentelemetry-proto, the
two requests are equal message for message (and, upb writing fields in number order, byte for
byte)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from app.telemetry.otlp import FastOTLPSpanExporter, SpanEncoder
from loadtest.otlp_sink import OtlpSink


def _provider(resource: Resource) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _assert_same(spans: Sequence[ReadableSpan]) -> None:
    ours = SpanEncoder().encode(spans)
    official = encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(ours) == official
    assert ours == official.SerializeToString()


def _every_field() -> tuple[ReadableSpan, ...]:
    resource = Resource({"service.name": "t", "n": 3, "ok": True}, schema_url="https://s/1")
    provider, exporter = _provider(resource)
    tracer = provider.get_tracer("app", "1.2", schema_url="https://s/2", attributes={"a": "b"})
    other = provider.get_tracer("other")  # a second scope in the same resource
    remote = SpanContext(
        0xABC,
        0xDEF,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "x"), ("k", "v")]),
    )
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span(
        "server",
        context=parent,
        kind=SpanKind.SERVER,
        links=[Link(remote, {"why": "batch"}), Link(remote)],
        attributes={
            "s": "é ü",
            "empty": "",
            "t": True,
            "f": False,
            "zero": 0,
            "neg": -5,
            "big": 2**62,
            "x": 1.5,
            "nan": math.nan,
            "strings": ("a", "b"),
            "ints": (1, 2, 3),
            "none": (),
        },
    ) as span:
        span.add_event("retry", {"attempt": 2}, timestamp=123)
        span.add_event("")
        with other.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "upstream 503"))
        with tracer.start_as_current_span("ok") as done:
            done.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("", kind=SpanKind.CONSUMER):
        pass  # a root span without a name
    # Spans of a second resource in the same batch.
    second, exported = _provider(Resource({"service.name": "u"}))
    with second.get_tracer("x").start_as_current_span("p", kind=SpanKind.PRODUCER):
        pass
    return (*exporter.get_finished_spans(), *exported.get_finished_spans())


def test_every_field_the_sdk_sets_encodes_as_the_official_encoder_does() -> None:
    spans = _every_field()
    _assert_same(spans)
    _assert_same(spans[:1])


def test_cached_attributes_keep_types_apart() -> None:
    provider, exporter = _provider(Resource({}))
    tracer = provider.get_tracer("app")
    for value in (1, True, 1.0, "1", 1, True, 1.0):
        with tracer.start_as_current_span("s", attributes={"v": value}):
            pass
    encoder = SpanEncoder()
    spans = exporter.get_finished_spans()
    for _ in range(2):  # the second round reads the cache
        assert ExportTraceServiceRequest.FromString(encoder.encode(spans)) == encode_spans(spans)


def test_a_value_the_proto_cannot_hold_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, exporter = _provider(Resource({}))
    with provider.get_tracer("app").start_as_current_span("s", attributes={"ok": "yes"}) as span:
        span._attributes._dict["huge"] = 2**64  # type: ignore[attr-defined]  # past int64
    (decoded,) = ExportTraceServiceRequest.FromString(
        SpanEncoder().encode(exporter.get_finished_spans())
    ).resource_spans
    assert [kv.key for kv in decoded.scope_spans[0].spans[0].attributes] == ["ok"]
    assert "Failed to encode key huge" in caplog.text


scalars = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.lists(st.text(max_size=5), max_size=3).map(tuple),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=8), st.text())
def test_any_attributes_and_name(attributes: dict[str, Any], name: str) -> None:
    provider, exporter = _provider(Resource({"service.name": "h"}))
    with provider.get_tracer("app").start_as_current_span(name, attributes=attributes):
        pass
    _assert_same(exporter.get_finished_spans())


def test_the_exporter_delivers_to_a_receiver() -> None:
    spans = _every_field()
    with OtlpSink(decode=True) as sink:
        exporter = FastOTLPSpanExporter(endpoint=sink.endpoint + "/v1/traces")
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        exporter.shutdown()
        assert exporter.export(spans) == SpanExportResult.FAILURE  # after shutdown: refused
    assert [s.name for s in sink.spans] == [s.name for s in spans]
    server = next(s for s in sink.spans if s.name == "server")
    assert server.attributes["s"] == "é ü" and server.attributes["f"] is False
    assert server.parent_span_id == format(0xDEF, "016x")


def test_the_exporter_reports_a_refusing_receiver() -> None:
    with OtlpSink(decode=True) as sink:
        exporter = FastOTLPSpanExporter(endpoint=sink.endpoint + "/v1/nowhere", timeout=2)
        assert exporter.export(_every_field()) == SpanExportResult.FAILURE
    assert sink.spans == []


def test_the_exporter_keeps_the_official_size_limit(caplog: pytest.LogCaptureFixture) -> None:
    spans = _every_field()
    with OtlpSink(decode=True) as sink:
        exporter = FastOTLPSpanExporter(endpoint=sink.endpoint + "/v1/traces", max_request_size=64)
        assert exporter.export(spans) == SpanExportResult.FAILURE
    assert sink.spans == []
    assert "exceeds max_request_size" in caplog.text
