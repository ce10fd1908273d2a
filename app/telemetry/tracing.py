"""The OpenTelemetry SDK wiring: provider, sampler, exporters and instrumentors.

Configured by the standard variables:
- `OTEL_SDK_DISABLED=true`: no tracing at all (spans are no-ops);
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: when the sampler is not set, requests
  are sampled parent-based at a trace-id ratio (`OTEL_TRACES_SAMPLER_ARG`, default 0.1) and
  every ingest run is traced (two a day; an SRE wants each of them);
- `OTEL_TRACES_EXPORTER` (`otlp` by default, `console`, `none`) with
  `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
  `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`): without an endpoint nothing is exported;
- `OTEL_BSP_MAX_QUEUE_SIZE` (2048) and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (256 here, at most
  the queue size) size the batch processor;
- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` override the resource below.
"""

from __future__ import annotations

import os
import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes
from prometheus_client import Counter
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.telemetry.redact import Redactor

SERVICE_NAME = "ticker-converter"
DEFAULT_RATIO = 0.1
ALWAYS_TRACED = ("ingest.run",)
EXPORT_BATCH = 256
QUEUE_SIZE = 2048  # the SDK's default OTEL_BSP_MAX_QUEUE_SIZE
UNTRACED_URLS = ("/metrics", "/health", "/ready")


class TracingError(ValueError):
    """An OTEL_* variable asks for something this service cannot do."""


# Set while a request the admission gate chose to trace is served (see `RequestSampling`).
_ADMITTED: ContextVar[bool] = ContextVar("trace_admitted", default=False)


class _JobsAlways(Sampler):
    """Root spans of scheduled work and of admitted requests always; others by trace-id
    ratio."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        chosen = ALWAYS_ON if name in ALWAYS_TRACED or _ADMITTED.get() else self._ratio
        return chosen.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"JobsAlways{{{self._ratio.get_description()}}}"


def sampling_ratio(env: Mapping[str, str] = os.environ) -> float | None:
    """Our default sampler's ratio; None when OTEL_TRACES_SAMPLER names another sampler."""
    if env.get("OTEL_TRACES_SAMPLER"):
        return None
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", DEFAULT_RATIO))
    except ValueError:
        raise TracingError("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]") from None
    if not 0.0 <= ratio <= 1.0:
        raise TracingError("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]")
    return ratio


def default_sampler(env: Mapping[str, str] = os.environ) -> Sampler | None:
    """None when OTEL_TRACES_SAMPLER is set: the SDK then builds the sampler it names."""
    ratio = sampling_ratio(env)
    return None if ratio is None else ParentBased(root=_JobsAlways(ratio))


def exporters(
    env: Mapping[str, str] = os.environ, *, outcomes: Counter | None = None
) -> list[SpanExporter]:
    """What OTEL_TRACES_EXPORTER names; the OTLP exporter counts its spans into `outcomes`."""
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    out: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            out.append(ConsoleSpanExporter())
        elif name == "otlp":
            endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            if not endpoint and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
                endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
            if not endpoint:
                continue  # no endpoint: nothing leaves the process
            protocol = env.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            )
            if protocol != "http/protobuf":
                raise TracingError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: only http/protobuf is supported"
                )
            from app.telemetry.otlp import FastOTLPSpanExporter

            out.append(FastOTLPSpanExporter(endpoint=endpoint, outcomes=outcomes))
        else:
            raise TracingError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r}")
    return out


def tracing_disabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor, counting the spans its full queue drops into `dropped`
    (the SDK itself only logs the first drop of each 20 s)."""

    def __init__(self, exporter: SpanExporter, *, dropped: Counter, **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._dropped = dropped
        # The SDK's queue: a deque bounded by max_queue_size; a span pushed into a full one
        # pushes the oldest out (tests/telemetry/test_span_outcomes.py says if that changes).
        self._queue: deque[ReadableSpan] = self._batch_processor._queue

    def on_end(self, span: ReadableSpan) -> None:
        sampled = span.context is not None and span.context.trace_flags.sampled
        if sampled and len(self._queue) == self._queue.maxlen:
            self._dropped.inc()
        super().on_end(span)


def make_provider(
    *,
    version: str,
    environment: str,
    outcomes: Counter,
    processors: Sequence[SpanProcessor] = (),
    env: Mapping[str, str] = os.environ,
) -> TracerProvider:
    """A provider for this process; `processors` replace the exporters the env names.
    `outcomes` (the catalog's `trace_spans_total`) counts what becomes of sampled spans."""
    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.version": version,
            "deployment.environment": environment,
        }
    ).merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource, sampler=default_sampler(env))
    for processor in processors or [
        _batch_processor(e, outcomes, env) for e in exporters(env, outcomes=outcomes)
    ]:
        provider.add_span_processor(processor)
    return provider


def _batch_processor(
    exporter: SpanExporter, outcomes: Counter, env: Mapping[str, str]
) -> CountingBatchSpanProcessor:
    # Export batches of 256 (the SDK's default is 512) unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE
    # says otherwise: encoding competes with requests for the GIL, and shorter bursts cut
    # traced p99 (measured 20 -> 14 ms); 64 dropped spans at 100% sampling. Never more than
    # the queue holds, which the SDK would refuse.
    queue = _int(env, "OTEL_BSP_MAX_QUEUE_SIZE", QUEUE_SIZE)
    sizes = {
        "max_queue_size": queue,
        "max_export_batch_size": _int(
            env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", min(EXPORT_BATCH, queue)
        ),
    }
    return CountingBatchSpanProcessor(exporter, dropped=outcomes.labels("dropped"), **sizes)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise TracingError(f"{name} must be an integer") from None


def _incoming_sampled(scope: Scope) -> bool | None:
    """The sampled flag of a W3C `traceparent` request header; None without a valid one."""
    for key, value in scope["headers"]:
        if key == b"traceparent":
            parts = value.split(b"-")
            if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
                return None
            try:
                return bool(int(parts[3][:2], 16) & 1)
            except ValueError:
                return None
    return None


def admitted(scope: Scope, ratio: float) -> bool:
    """Whether to trace this request: a `traceparent` header's sampled flag when there is one
    (parent-based), else the trace-id ratio's odds (decided before any trace id exists)."""
    sampled = _incoming_sampled(scope)
    if sampled is None:
        return ratio >= 1.0 or random.random() < ratio
    return sampled


class RequestSampling:
    """Decides up front whether a request will be traced, and only then runs it through the
    instrumented middleware stack.

    FastAPIInstrumentor's middleware does most of its work (route lookup, request attributes,
    context) before the sampler is asked, so an unsampled request paid about a third of its
    CPU for a span that was dropped (measured: README, "Benchmarks"). The gate applies the same
    rule first: a `traceparent` header's sampled flag when there is one (parent-based), the
    ratio otherwise; probes and scrapes are never traced. Admitted requests are marked so
    the SDK's root sampler agrees."""

    def __init__(
        self, traced: ASGIApp, untraced: ASGIApp, *, ratio: float, excluded: Iterable[str]
    ) -> None:
        self.traced, self.untraced, self.ratio = traced, untraced, ratio
        self.excluded = frozenset(excluded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.traced(scope, receive, send)
            return
        if scope["path"] in self.excluded or not admitted(scope, self.ratio):
            await self.untraced(scope, receive, send)
            return
        token = _ADMITTED.set(True)
        try:
            await self.traced(scope, receive, send)
        finally:
            _ADMITTED.reset(token)


def instrument_app(app: FastAPI, provider: TracerProvider, *, ratio: float | None) -> None:
    """One server span per traced request: no receive/send spans, no spans for scrapes and
    probes. With our sampler (`ratio` not None) untraced requests bypass the instrumentation."""
    plain = app.build_middleware_stack
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=",".join(UNTRACED_URLS),
        exclude_spans=["receive", "send"],
    )
    if ratio is None:
        return
    instrumented = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return RequestSampling(instrumented(), plain(), ratio=ratio, excluded=UNTRACED_URLS)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def instrument_client(
    client: httpx.AsyncClient, provider: TracerProvider, redact: Redactor
) -> None:
    """Outbound calls traced, their URLs masked (Alpha Vantage takes its key in the query)."""

    async def mask_url(span: Span, request: Any) -> None:
        attributes = getattr(span, "attributes", None) or {}
        for key in ("http.url", "url.full"):
            if key in attributes:
                span.set_attribute(key, redact(str(attributes[key])))

    HTTPXClientInstrumentor.instrument_client(
        client, tracer_provider=provider, meter_provider=NoOpMeterProvider(), request_hook=mask_url
    )


def instrument_engine(engine: Engine, provider: TracerProvider) -> None:
    """One span per SQL statement, on this engine only.

    `SQLAlchemyInstrumentor().instrument()` is a process-wide singleton that also patches
    `create_engine` and `Engine.connect` globally (and imports the asyncio extension, which
    needs greenlet); its per-engine part is `EngineTracer`, used here directly."""
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = NoOpMeterProvider().get_meter("sqlalchemy").create_up_down_counter("db.connections")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
