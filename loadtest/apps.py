"""ASGI apps for the benchmarks: `uvicorn --factory loadtest.apps:bare` (or another below)."""

from __future__ import annotations

import os
import random
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import load_settings
from app.main import create_app
from app.telemetry import Telemetry


def bare() -> FastAPI:
    """The baseline: FastAPI with one endpoint returning a small dict."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok", "service": "ticker-converter"}

    return app


def service() -> FastAPI:
    """The real service as configured by TICKER_* and OTEL_* variables, without the scheduler."""
    return create_app(load_settings(scheduler_enabled=False), freeze_heap=True)


def usual() -> FastAPI:
    """The recipe most services pick instead of ours: the service with its own telemetry off,
    then prometheus-fastapi-instrumentator and FastAPIInstrumentor, both with their defaults,
    and an SDK provider exporting over OTLP like ours (BatchSpanProcessor, OTEL_* endpoint)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_fastapi_instrumentator import Instrumentator

    app = create_app(
        load_settings(scheduler_enabled=False, metrics_enabled=False),
        telemetry=Telemetry.off(),
        freeze_heap=True,
    )
    provider = TracerProvider()  # the SDK's default sampler: parent-based, always on
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    Instrumentator().instrument(app).expose(app)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app


def lean() -> FastAPI:
    """The service with `loadtest.lean_span`'s server span in place of FastAPIInstrumentor,
    a measured alternative for issue 4; `LEAN_CHILD_SPANS=false` drops the convert spans."""
    from app.telemetry.setup import build_telemetry
    from loadtest.lean_span import create_lean_app

    settings = load_settings(scheduler_enabled=False)
    child_spans = os.environ.get("LEAN_CHILD_SPANS") != "false"
    return create_lean_app(settings, build_telemetry(settings), child_spans=child_spans)


def official_export() -> FastAPI:
    """The service exporting with the official OTLPSpanExporter (its protobuf encoder) instead
    of ours (`app.telemetry.otlp`), batches as ours: what the wire-format encoder saves."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from app.telemetry.setup import build_telemetry
    from app.telemetry.tracing import EXPORT_BATCH

    settings = load_settings(scheduler_enabled=False)
    processor = BatchSpanProcessor(OTLPSpanExporter(), max_export_batch_size=EXPORT_BATCH)
    telemetry = build_telemetry(settings, processors=[processor])
    return create_app(settings, telemetry=telemetry, freeze_heap=True)


class Burst:
    """Busy CPU for `seconds` before a `ratio` share of HTTP requests, chosen at random as the
    tracing gate chooses; nothing allocated, no memory touched but the clock's."""

    def __init__(self, app: ASGIApp, *, seconds: float, ratio: float) -> None:
        self.app, self.seconds, self.ratio = app, seconds, ratio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and random.random() < self.ratio:
            end = time.perf_counter() + self.seconds
            while time.perf_counter() < end:
                pass
        await self.app(scope, receive, send)


def burst() -> FastAPI:
    """A control, not the product: `service()` (run with tracing off) with `BURST_US` us of
    busy CPU (default 250) before a `BURST_RATIO` share of requests (default 0.1). 250 us in
    10% and 25 us in every request cost the same CPU on average: bench_telemetry's x and y
    variants tell whether this machine charges a burst in a tenth of requests more than its
    share, tracing aside."""
    app = service()
    seconds = float(os.environ.get("BURST_US", "250")) / 1e6
    ratio = float(os.environ.get("BURST_RATIO", "0.1"))
    plain = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return Burst(plain(), seconds=seconds, ratio=ratio)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    return app
