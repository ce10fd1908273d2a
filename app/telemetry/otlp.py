"""OTLP/HTTP span export with a wire-format encoder: the official exporter's transport, a
cheaper encoding.

The official encoder builds a protobuf object per span, attribute and value, and hashes each
span's Resource (a JSON dump of its attributes) to group spans: about 40 us per span on this
machine, more than creating the span, and paid in the export thread, which shares the GIL with
the requests being served (README, "Benchmarks"). This module writes the same
`ExportTraceServiceRequest` bytes directly:

- spans are grouped by resource and scope object (the SDK shares one of each per tracer), and
  both are encoded once per process;
- a `KeyValue` whose value is a string, bool or number is encoded once and reused while the
  cache has room (route, method, host, status... repeat on every request);
- everything else is a few `bytes` joins.

`tests/telemetry/test_otlp.py` decodes the output with opentelemetry-proto and compares it
with the official encoder's message for every field the SDK can set. Field numbers follow
opentelemetry/proto/trace/v1/trace.proto (stable since OTLP 1.0).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext
from prometheus_client import Counter

_logger = logging.getLogger(__name__)

_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack
# SpanFlags: the exporter always says whether the parent was remote (bit 8), and if so (bit 9).
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
_CACHE_LIMIT = 8192  # encoded key-values kept; cleared when full (query strings churn)


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,)) if value >= 0 else _varint(value + (1 << 64))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + _varint(len(payload)) + payload


def _value(value: Any) -> bytes:
    """An AnyValue message's content (its oneof members have presence: False and 0 count)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not -(1 << 63) <= value < 1 << 63:
            raise TypeError(f"{value} does not fit an int64 attribute value")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _value(v)) for v in value))
    if isinstance(value, Mapping):
        items = b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", items)
    raise TypeError(f"cannot encode a {type(value).__name__} attribute value")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _value(value))


class _Attributes:
    """Repeated KeyValue fields, the scalar ones cached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, type, Any], bytes] = {}

    def encode(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        if not attributes:
            return b""
        cache = self._cache
        parts = []
        for key, value in attributes.items():
            cacheable = isinstance(value, (str, int, float))  # bool is an int
            # The type is part of the key: True == 1 == 1.0 must not share an encoding.
            if cacheable and (encoded := cache.get((key, type(value), value))) is not None:
                parts.append(encoded)
                continue
            try:
                encoded = _field(tag, _key_value(key, value))
            except TypeError as error:  # as the official encoder: log it, drop the attribute
                _logger.error("Failed to encode key %s: %s", key, error)
                continue
            if cacheable:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[key, type(value), value] = encoded
            parts.append(encoded)
        return b"".join(parts)


def _flags(context: SpanContext | None) -> bytes:
    remote = context is not None and context.is_remote
    return _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if remote else 0))


class SpanEncoder:
    """Encodes batches of finished SDK spans as an OTLP `ExportTraceServiceRequest`."""

    def __init__(self) -> None:
        self._attributes = _Attributes()
        # id() -> (the object, its encoding): holding the object keeps its id from being reused.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        groups: dict[int, dict[int, list[bytes]]] = {}
        for span in spans:
            resource, scope = span.resource, span.instrumentation_scope
            if id(resource) not in self._resources:
                self._resources[id(resource)] = (resource, self._resource(resource))
            if id(scope) not in self._scopes:
                self._scopes[id(scope)] = (scope, self._scope(scope))
            by_scope = groups.setdefault(id(resource), {})
            by_scope.setdefault(id(scope), []).append(self._span(span))
        out = []
        for resource_id, by_scope in groups.items():
            resource, resource_bytes = self._resources[resource_id]
            scope_spans = []
            for scope_id, encoded in by_scope.items():
                scope, scope_bytes = self._scopes[scope_id]
                body = [scope_bytes, *(_field(b"\x12", s) for s in encoded)]
                if scope is not None and scope.schema_url:
                    body.append(_field(b"\x1a", scope.schema_url.encode()))
                scope_spans.append(_field(b"\x12", b"".join(body)))
            schema = _field(b"\x1a", resource.schema_url.encode()) if resource.schema_url else b""
            out.append(_field(b"\x0a", resource_bytes + b"".join(scope_spans) + schema))
        return b"".join(out)

    def _resource(self, resource: Resource) -> bytes:
        return _field(b"\x0a", self._attributes.encode(b"\x0a", resource.attributes))

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        if scope is None:
            return b"\x0a\x00"
        body = [_field(b"\x0a", scope.name.encode()) if scope.name else b""]
        if scope.version:
            body.append(_field(b"\x12", scope.version.encode()))
        body.append(self._attributes.encode(b"\x1a", scope.attributes))
        return _field(b"\x0a", b"".join(body))

    def _span(self, span: ReadableSpan) -> bytes:
        context, parent = span.context, span.parent
        assert context is not None  # a finished SDK span always has one
        out = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
            out.append(_field(b"\x1a", state.encode()))
        if parent is not None:
            out.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        if span.name:
            out.append(_field(b"\x2a", span.name.encode()))
        out.append(b"\x30" + _varint(span.kind.value + 1))  # the proto's kinds start at 1
        if span.start_time:
            out.append(b"\x39" + _FIXED64(span.start_time))
        if span.end_time:
            out.append(b"\x41" + _FIXED64(span.end_time))
        out.append(self._attributes.encode(b"\x4a", span.attributes))
        if span.dropped_attributes:
            out.append(b"\x50" + _varint(span.dropped_attributes))
        for event in span.events:
            body = [b"\x09" + _FIXED64(event.timestamp)]
            if event.name:
                body.append(_field(b"\x12", event.name.encode()))
            body.append(self._attributes.encode(b"\x1a", event.attributes))
            if event.dropped_attributes:
                body.append(b"\x20" + _varint(event.dropped_attributes))
            out.append(_field(b"\x5a", b"".join(body)))
        if span.dropped_events:
            out.append(b"\x60" + _varint(span.dropped_events))
        for link in span.links:
            body = [
                b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big"),
                b"\x12\x08" + link.context.span_id.to_bytes(8, "big"),
                self._attributes.encode(b"\x22", link.attributes),
            ]
            if link.dropped_attributes:
                body.append(b"\x28" + _varint(link.dropped_attributes))
            body.append(b"\x35" + _flags(link.context))
            out.append(_field(b"\x6a", b"".join(body)))
        if span.dropped_links:
            out.append(b"\x70" + _varint(span.dropped_links))
        status = span.status
        body = [_field(b"\x12", status.description.encode()) if status.description else b""]
        if status.status_code.value:
            body.append(b"\x18" + _varint(status.status_code.value))
        out.append(_field(b"\x7a", b"".join(body)))
        out.append(b"\x85\x01" + _flags(parent))  # field 16, fixed32
        return b"".join(out)


class FastOTLPSpanExporter(OTLPSpanExporter):
    """The official OTLP/HTTP exporter (endpoint, headers, compression, TLS, retries and
    timeouts from OTEL_EXPORTER_OTLP_*), encoding with `SpanEncoder`. Given `outcomes` (the
    catalog's `trace_spans_total`), it counts the spans it exported and those it failed to."""

    def __init__(self, *, outcomes: Counter | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._encoder = SpanEncoder()
        self._counted = None
        if outcomes is not None:
            self._counted = (outcomes.labels("exported"), outcomes.labels("failed"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._send(spans)
        if self._counted is not None:
            exported, failed = self._counted
            (exported if result is SpanExportResult.SUCCESS else failed).inc(len(spans))
        return result

    def _send(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # The official `export` with `encode_spans(...)` swapped for `SpanEncoder`: the same
        # self-metrics, size limit and transport (`_client` retries with backoff on 429/5xx).
        if self._shutdown:
            _logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = self._encoder.encode(spans)
            except Exception as error:  # one bad batch must not kill the export thread
                _logger.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(data, self._max_request_size):
                _logger.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size %d",
                    len(data),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"span batch of {len(data)} bytes exceeds {self._max_request_size}"
                )
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
