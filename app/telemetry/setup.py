"""Telemetry for one app: built from Settings and OTEL_*, attached to FastAPI."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import SpanProcessor
from prometheus_client import start_http_server
from sqlalchemy import Engine

from app import __version__
from app.config import Settings
from app.ingest.quality import RULES
from app.sources.base import OUTCOMES
from app.telemetry import Telemetry
from app.telemetry.catalog import OPERATIONS, Metrics, Vocabulary
from app.telemetry.exposition import metrics_endpoint
from app.telemetry.freshness import SymbolFreshness
from app.telemetry.middleware import HttpMetrics
from app.telemetry.redact import Redactor
from app.telemetry.tracing import (
    instrument_app,
    instrument_client,
    instrument_engine,
    make_provider,
    sampling_ratio,
    tracing_disabled,
)


def build_telemetry(
    settings: Settings,
    *,
    processors: Sequence[SpanProcessor] = (),
    env: Mapping[str, str] = os.environ,
) -> Telemetry:
    """Metrics unless TICKER_METRICS_ENABLED=false; tracing unless OTEL_SDK_DISABLED=true.
    `processors` (tests) replace the exporters that OTEL_TRACES_EXPORTER names."""
    metrics = Metrics(process=settings.metrics_enabled)
    provider = None
    if not tracing_disabled(env):
        provider = make_provider(
            version=__version__,
            environment=settings.environment,
            outcomes=metrics.trace_spans,
            processors=processors,
            env=env,
        )
    return Telemetry(
        metrics, provider, exposed=settings.metrics_enabled, sample_ratio=sampling_ratio(env)
    )


def instrument_io(
    telemetry: Telemetry, settings: Settings, *, engine: Engine, client: httpx.AsyncClient
) -> None:
    """SQL and outbound HTTP spans, URLs masked; nothing when tracing is off."""
    if telemetry.provider is None:
        return
    instrument_engine(engine, telemetry.provider)
    instrument_client(client, telemetry.provider, Redactor(settings.secrets()))


def serve_metrics(telemetry: Telemetry, settings: Settings, *, port: int) -> None:
    """/metrics from a daemon thread (the worker has no HTTP app of its own)."""
    telemetry.metrics.preinitialise(vocabulary(settings), version=__version__)
    start_http_server(port, addr="127.0.0.1", registry=telemetry.metrics.registry)


def vocabulary(settings: Settings) -> Vocabulary:
    sources: dict[str, tuple[str, ...]] = {}
    for kind, chain in (("prices", settings.price_sources), ("fx", settings.fx_sources)):
        for name in chain:
            sources[name] = (*sources.get(name, ()), OPERATIONS[kind])
    return Vocabulary(
        sources=sources,
        currencies=tuple(settings.currencies),
        rules=RULES,
        outcomes=OUTCOMES,
    )


def attach(
    app: FastAPI,
    telemetry: Telemetry,
    settings: Settings,
    freshness: SymbolFreshness | None = None,
) -> None:
    """/metrics and the HTTP metrics middleware (when exposed), then the tracing middleware
    outermost, so the metrics middleware sees the request's span (for exemplars)."""
    if telemetry.exposed:
        app.add_route(
            "/metrics",
            metrics_endpoint(telemetry.metrics.registry, freshness),
            include_in_schema=False,
        )
        app.add_middleware(HttpMetrics, telemetry=telemetry)
        routes = [*app.openapi()["paths"], "/metrics"]
        telemetry.metrics.preinitialise(vocabulary(settings), version=__version__, routes=routes)
    if telemetry.provider is not None:
        instrument_app(app, telemetry.provider, ratio=telemetry.sample_ratio)
