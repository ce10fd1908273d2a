"""CPU per /convert request, in-process: the app called directly over ASGI, no server.

    python -m loadtest.asgi_cost [--rounds 9] [--requests 2000]

Separates what telemetry costs from the HTTP server's share (which wrk runs include). Apps are
built as `serve` builds them (heap frozen after start-up). Variants, alternated, medians of the
rounds, in microseconds per request:
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
It then splits `sampled` by request: the median traced request, the median untraced one, and
the untraced one right after a traced one (each timed alone, in extra passes).
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
Split = dict[str, list[float]]


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _EncodeInBatches(SpanProcessor):
    """Encodes every EXPORT_BATCH finished spans, synchronously."""

    def __init__(self, encode: Callable[[Sequence[ReadableSpan]], bytes]) -> None:
        self.encode = encode
        self.batch: list[ReadableSpan] = []
        self.ended = 0  # spans so far: a request that moved it was traced

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1
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


def variant_app(url: str, variant: str) -> tuple[FastAPI, SpanProcessor | None]:
    """One variant's app on the database at `url`, and the span processor it ends spans in."""
    settings = load_settings(
        database_url=url, scheduler_enabled=False, metrics_enabled=variant != "off"
    )
    if variant in ("off", "metrics"):
        telemetry = build_telemetry(settings, env={"OTEL_SDK_DISABLED": "true"})
        return create_app(settings, telemetry=telemetry, freeze_heap=True), None
    encoder = ENCODERS.get(variant, ENCODERS["traced+encode"])
    processor = SimpleSpanProcessor(_Drop()) if variant == "traced" else _EncodeInBatches(encoder)
    ratio = "0.1" if variant == "sampled" else "1"
    telemetry = build_telemetry(
        settings, processors=[processor], env={"OTEL_TRACES_SAMPLER_ARG": ratio}
    )
    if variant.startswith("lean"):
        lean = create_lean_app(settings, telemetry, child_spans=variant != "lean-bare")
        return lean, processor
    return create_app(settings, telemetry=telemetry, freeze_heap=True), processor


def _scope() -> dict[str, Any]:
    return {
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


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: MutableMapping[str, Any]) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise SystemExit(f"/convert answered {message['status']}")


async def time_requests(app: FastAPI, n: int) -> float:
    """Calls `/convert` `n` times; microseconds per request."""
    scope = _scope()
    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), _receive, _send)
    return (time.perf_counter() - started) / n * 1e6


async def _split(app: FastAPI, processor: _EncodeInBatches, n: int, into: Split) -> None:
    """Times `n` requests one by one into traced, untraced, and untraced right after traced."""
    scope, after_traced = _scope(), False
    for _ in range(n):
        ended = processor.ended
        started = time.perf_counter()
        await app(dict(scope), _receive, _send)
        took = (time.perf_counter() - started) * 1e6
        traced = processor.ended != ended
        into["traced" if traced else "next" if after_traced else "untraced"].append(took)
        after_traced = traced


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'cost.db'}"
        await asyncio.to_thread(seed, url)
        built = {v: variant_app(url, v) for v in VARIANTS}
        apps = {v: app for v, (app, _) in built.items()}
        sampled, processor = built["sampled"]
        assert isinstance(processor, _EncodeInBatches)
        results: dict[str, list[float]] = {v: [] for v in VARIANTS}
        split: Split = {"traced": [], "untraced": [], "next": []}
        async with AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
                await time_requests(app, 200)  # warm-up
            for _ in range(args.rounds):
                for variant, app in apps.items():
                    results[variant].append(await time_requests(app, args.requests))
                await _split(sampled, processor, args.requests, split)
    base = statistics.median(results["off"])
    for variant, values in results.items():
        median = statistics.median(values)
        print(f"{variant:14s} {median:7.1f} us/request  (+{median - base:6.1f} over off)")
    traced, untraced, after = (statistics.median(split[k]) for k in ("traced", "untraced", "next"))
    print(
        f"sampled, request by request: traced {traced:.1f} us ({len(split['traced'])}), "
        f"untraced {untraced:.1f} us, untraced after a traced one {after:.1f} us; "
        f"a traced request costs {traced / untraced:.1f}x an untraced one"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
