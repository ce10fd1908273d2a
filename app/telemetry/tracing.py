"""The OpenTelemetry SDK wiring: provider, sampler, exporters and instrumentors.

Configured by the standard variables:
- `OTEL_SDK_DISABLED=true`: no tracing at all (spans are no-ops);
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: when the sampler is not set, requests
  are sampled parent-based at a trace-id ratio (`OTEL_TRACES_SAMPLER_ARG`, default 0.1) and
  every ingest run is traced (two a day; an SRE wants each of them);
- `OTEL_TRACES_EXPORTER` (`otlp` by default, `console`, `none`) with
  `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
  `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`): without an endpoint nothing is exported;
- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` override the resource below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
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
from sqlalchemy import Engine

from app.telemetry.redact import Redactor

SERVICE_NAME = "ticker-converter"
DEFAULT_RATIO = 0.1
ALWAYS_TRACED = ("ingest.run",)
UNTRACED_URLS = "/metrics,/health,/ready"


class TracingError(ValueError):
    """An OTEL_* variable asks for something this service cannot do."""


class _JobsAlways(Sampler):
    """Root spans of scheduled work always; everything else by trace-id ratio."""

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
        chosen = ALWAYS_ON if name in ALWAYS_TRACED else self._ratio
        return chosen.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"JobsAlways{{{self._ratio.get_description()}}}"


def default_sampler(env: Mapping[str, str] = os.environ) -> Sampler | None:
    """None when OTEL_TRACES_SAMPLER is set: the SDK then builds the sampler it names."""
    if env.get("OTEL_TRACES_SAMPLER"):
        return None
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", DEFAULT_RATIO))
    except ValueError:
        raise TracingError("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]") from None
    if not 0.0 <= ratio <= 1.0:
        raise TracingError("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]")
    return ParentBased(root=_JobsAlways(ratio))


def exporters(env: Mapping[str, str] = os.environ) -> list[SpanExporter]:
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
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter(endpoint=endpoint))
        else:
            raise TracingError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r}")
    return out


def tracing_disabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def make_provider(
    *,
    version: str,
    environment: str,
    processors: Sequence[SpanProcessor] = (),
    env: Mapping[str, str] = os.environ,
) -> TracerProvider:
    """A provider for this process; `processors` replace the exporters the env names."""
    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.version": version,
            "deployment.environment": environment,
        }
    ).merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource, sampler=default_sampler(env))
    for processor in processors or [BatchSpanProcessor(e) for e in exporters(env)]:
        provider.add_span_processor(processor)
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """One server span per request: no receive/send spans, no spans for scrapes and probes."""
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
    )


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
