"""CPU per /convert request, in-process: the app called directly over ASGI, no server.

    python -m loadtest.asgi_cost [--rounds 9] [--requests 2000]

Separates what telemetry costs from the HTTP server's share (which wrk runs include). Variants,
alternated, medians of the rounds, in microseconds per request:
  off            telemetry off
  metrics        metrics only
  traced         every request traced (FastAPIInstrumentor, child spans), spans dropped
  traced+encode  the same, spans encoded for OTLP in batches of 256 as our exporter does
                 (app.telemetry.otlp), in the request's time instead of the export thread's
  traced+proto   the same with the official exporter's encoder (opentelemetry-proto objects)
  sampled        the default: 10% of requests traced, spans encoded as in traced+encode
  lean+encode    traced+encode with loadtest.lean_span's server span in place of
                 FastAPIInstrumentor's (not the product)
  lean-bare      lean+encode without the convert child spans (not the product)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, MutableMapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from app.config import load_settings
from app.main import create_app
from app.telemetry.otlp import SpanEncoder
from app.telemetry.setup import build_telemetry
from app.telemetry.tracing import EXPORT_BATCH
from loadtest.bench_api import seed
from loadtest.lean_span import create_lean_app

QUERY = b"amount=100&from=USD&to=GBP"


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _EncodeInBatches(SpanProcessor):
    """Encodes every EXPORT_BATCH finished spans, synchronously."""

    def __init__(self, encode: Callable[[Sequence[ReadableSpan]], bytes]) -> None:
        self.encode = encode
        self.batch: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.batch.append(span)
        if len(self.batch) >= EXPORT_BATCH:
            self.encode(self.batch)
            self.batch = []


ENCODERS: dict[str, Callable[[Sequence[ReadableSpan]], bytes]] = {
    "traced+encode": SpanEncoder().encode,
    "traced+proto": lambda spans: encode_spans(spans).SerializeToString(),
}


VARIANTS = (
    "off",
    "metrics",
    "traced",
    "traced+encode",
    "traced+proto",
    "sampled",
    "lean+encode",
    "lean-bare",
)


def _app(url: str, variant: str) -> FastAPI:
    settings = load_settings(
        database_url=url, scheduler_enabled=False, metrics_enabled=variant != "off"
    )
    if variant in ("off", "metrics"):
        telemetry = build_telemetry(settings, env={"OTEL_SDK_DISABLED": "true"})
        return create_app(settings, telemetry=telemetry)
    encoder = ENCODERS.get(variant, ENCODERS["traced+encode"])
    processor = SimpleSpanProcessor(_Drop()) if variant == "traced" else _EncodeInBatches(encoder)
    ratio = "0.1" if variant == "sampled" else "1"
    telemetry = build_telemetry(
        settings, processors=[processor], env={"OTEL_TRACES_SAMPLER_ARG": ratio}
    )
    if variant.startswith("lean"):
        return create_lean_app(settings, telemetry, child_spans=variant != "lean-bare")
    return create_app(settings, telemetry=telemetry)


async def _per_request(app: FastAPI, n: int) -> float:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/convert",
        "raw_path": b"/api/v1/convert",
        "query_string": QUERY,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"asgi_cost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"/convert answered {message['status']}")

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / n * 1e6


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'cost.db'}"
        await asyncio.to_thread(seed, url)
        apps = {v: _app(url, v) for v in VARIANTS}
        results: dict[str, list[float]] = {v: [] for v in VARIANTS}
        async with AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
                await _per_request(app, 200)  # warm-up
            for _ in range(args.rounds):
                for variant, app in apps.items():
                    results[variant].append(await _per_request(app, args.requests))
    base = statistics.median(results["off"])
    for variant, values in results.items():
        median = statistics.median(values)
        print(f"{variant:14s} {median:7.1f} us/request  (+{median - base:6.1f} over off)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
