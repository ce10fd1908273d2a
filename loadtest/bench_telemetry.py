"""Benchmark: what telemetry costs GET /api/v1/convert, and what a scrape costs.

    python -m loadtest.bench_telemetry [--rounds 9] [--seconds 4] [--connections 32]

Part 1, five variants of one service, each its own single uvicorn process on 127.0.0.1,
loaded by wrk (another process) one at a time, the order rotated every round:
  a  telemetry off (TICKER_METRICS_ENABLED=false, OTEL_SDK_DISABLED=true)
  b  metrics only (OTEL_SDK_DISABLED=true)
  c  metrics + traces at the default sampling (parent-based, trace-id ratio 0.1)
  d  metrics + traces at 100% (OTEL_TRACES_SAMPLER_ARG=1)
  e  the usual recipe instead: prometheus-fastapi-instrumentator + FastAPIInstrumentor with
     defaults (our telemetry off)
Traced variants export over OTLP/HTTP to a local sink process (loadtest.otlp_sink).
`--variants ado` adds o: d exported by the official OTLPSpanExporter instead of ours
(app.telemetry.otlp), to measure what the wire-format encoder saves.
`--variants afghi` measures an alternative instead: the server span written with the SDK
directly, not FastAPIInstrumentor (f at the default sampling, g at 100%; h at 100% and i at
the default sampling without the convert child spans; see loadtest.lean_span).
`--variants abxy` measures two controls without tracing: b plus 250 us of busy CPU in 10% of
requests (x), and b plus 25 us in every request (y), the same CPU on average; x well below y
would mean this machine charges a burst in a tenth of the requests more than its share
(loadtest.apps:burst).
Targets (medians of the per-round ratios to a): b >= 0.95, c >= 0.85, d >= 0.6, and c's
overhead (1 - c/a) at most half of e's. Each variant's line also gives the server's user and
system CPU per request (from /proc) and how many cores it kept busy: about 1.00 means the
one process was the bottleneck, so the ratios are its CPU per request, not wrk's.

Part 2, the service (variant c) with 5,000 configured symbols: /metrics render time (median of
sequential scrapes, both formats), and convert's p99 while /metrics is scraped every second
(OpenMetrics, as Prometheus asks) against rounds without scrapes. Target: render <= 30 ms,
p99 within +20%.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from loadtest.bench_api import (
    CONVERT,
    cpu_seconds,
    free_port,
    seed,
    serve,
    server,
    service_env,
    wrk,
)

OFF = {"TICKER_METRICS_ENABLED": "false", "OTEL_SDK_DISABLED": "true"}
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
Result = tuple[float, float, float]  # requests/s, p50 ms, p99 ms
Cpu = tuple[float, float, float]  # the server's user and system us per request, cores busy


def _cpu(before: tuple[float, float], after: tuple[float, float], took: float, n: float) -> Cpu:
    user, system = after[0] - before[0], after[1] - before[1]
    return user / n * 1e6, system / n * 1e6, (user + system) / took


@contextmanager
def otlp_sink() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "loadtest.otlp_sink", "--port", str(port)])
    try:
        time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def variants(sink: str) -> dict[str, tuple[str, dict[str, str]]]:
    traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink}
    return {
        "a": ("service", OFF),
        "b": ("service", {"OTEL_SDK_DISABLED": "true"}),
        "c": ("service", traced),
        "d": ("service", {**traced, "OTEL_TRACES_SAMPLER_ARG": "1"}),
        "e": ("usual", traced),
        # d exported by the official OTLPSpanExporter instead of app.telemetry.otlp's.
        "o": ("official_export", {**traced, "OTEL_TRACES_SAMPLER_ARG": "1"}),
        # Not the product: FastAPIInstrumentor's server span replaced (see loadtest.lean_span).
        "f": ("lean", traced),
        "g": ("lean", {**traced, "OTEL_TRACES_SAMPLER_ARG": "1"}),
        "h": ("lean", {**traced, "OTEL_TRACES_SAMPLER_ARG": "1", "LEAN_CHILD_SPANS": "false"}),
        "i": ("lean", {**traced, "LEAN_CHILD_SPANS": "false"}),
        # Controls without tracing: b plus 250 us of busy CPU in 10% of requests (x), or
        # plus 25 us in every request (y): the same CPU on average, in bursts or evenly.
        "x": ("burst", {"OTEL_SDK_DISABLED": "true"}),
        "y": ("burst", {"OTEL_SDK_DISABLED": "true", "BURST_US": "25", "BURST_RATIO": "1"}),
    }


def part_one(url: str, sink: str, args: argparse.Namespace) -> None:
    base = {**service_env(url), **args.set}
    chosen = {k: v for k, v in variants(sink).items() if k in args.variants}
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(server(factory, {**base, **env}))
            for name, (factory, env) in chosen.items()
        }
        targets = {name: address + CONVERT for name, (_, address) in servers.items()}
        for target in targets.values():  # warm-up, and a check that every variant answers 200
            wrk(target, 2, args.connections)
        names = list(targets)
        results: dict[str, list[Result]] = {name: [] for name in names}
        cpu: dict[str, list[Cpu]] = {name: [] for name in names}
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                pid = servers[name][0].pid
                before, started = cpu_seconds(pid), time.monotonic()
                results[name].append(wrk(targets[name], args.seconds, args.connections))
                after, took = cpu_seconds(pid), time.monotonic() - started
                cpu[name].append(_cpu(before, after, took, results[name][-1][0] * args.seconds))
            line = " | ".join(
                f"{n} {results[n][-1][0]:6.0f} ({results[n][-1][0] / results['a'][-1][0]:.2f}x)"
                for n in names
            )
            print(f"round {round_no + 1} ({order[0]} first): {line}", flush=True)
    ratio = {
        n: statistics.median(r[0] / a[0] for r, a in zip(results[n], results["a"], strict=True))
        for n in names
    }
    for n in names:
        med = [statistics.median(x[i] for x in results[n]) for i in range(3)]
        user, system, busy = (statistics.median(x[i] for x in cpu[n]) for i in range(3))
        print(
            f"{n}: median {med[0]:.0f} req/s, p50 {med[1]:.2f} ms, p99 {med[2]:.2f} ms, "
            f"{ratio[n]:.3f}x a; server CPU per request user {user:.1f} us, "
            f"system {system:.1f} us, busy {busy:.2f} cores"
        )
    if set(ratio) != set("abcde"):
        return
    overhead_c, overhead_e = 1 - ratio["c"], 1 - ratio["e"]
    print(
        f"targets: b {ratio['b']:.3f} (>= 0.95) | c {ratio['c']:.3f} (>= 0.85) | "
        f"d {ratio['d']:.3f} (>= 0.60) | overhead c {overhead_c:.3f} vs e {overhead_e:.3f} "
        f"(c <= e/2: {overhead_c <= overhead_e / 2})"
    )


def render_times(base: str, n: int) -> dict[str, float]:
    out = {}
    with httpx.Client(base_url=base) as client:
        for label, accept in (("text", "text/plain"), ("openmetrics", OPENMETRICS)):
            times = []
            for _ in range(n):
                start = time.perf_counter()
                response = client.get("/metrics", headers={"Accept": accept})
                times.append(time.perf_counter() - start)
                response.raise_for_status()
            out[label] = statistics.median(times) * 1000
            out[f"{label}_bytes"] = len(response.content)
    return out


@contextmanager
def scraping(base: str, every: float) -> Iterator[list[float]]:
    """Scrape /metrics (OpenMetrics) every `every` seconds until the block ends."""
    stop = threading.Event()
    durations: list[float] = []

    def loop() -> None:
        with httpx.Client(base_url=base) as client:
            while not stop.is_set():
                start = time.perf_counter()
                client.get("/metrics", headers={"Accept": OPENMETRICS}).raise_for_status()
                durations.append(time.perf_counter() - start)
                stop.wait(every)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield durations
    finally:
        stop.set()
        thread.join(timeout=10)


def part_two(folder: str, sink: str, args: argparse.Namespace) -> None:
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    url = f"sqlite:///{Path(folder) / 'many.db'}"
    seed(url, symbols=symbols, days=5)
    env = {
        **service_env(url),
        "TICKER_SYMBOLS": ",".join(symbols),
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink,
    }
    with serve("service", env) as base:
        render_times(base, 5)  # warm-up (the first render fills the freshness cache)
        rendered = render_times(base, args.scrapes)
        print(
            f"/metrics with {len(symbols)} symbols: text {rendered['text']:.1f} ms "
            f"({rendered['text_bytes'] / 1024:.0f} KiB), OpenMetrics {rendered['openmetrics']:.1f} "
            f"ms ({rendered['openmetrics_bytes'] / 1024:.0f} KiB), median of {args.scrapes} "
            "(target <= 30 ms)"
        )
        target = base + CONVERT
        wrk(target, 2, args.connections)
        quiet: list[Result] = []
        scraped: list[Result] = []
        for round_no in range(args.rounds):
            for scrape in (round_no % 2 == 1, round_no % 2 == 0):
                if scrape:
                    with scraping(base, 1.0) as durations:
                        scraped.append(wrk(target, args.seconds, args.connections))
                else:
                    quiet.append(wrk(target, args.seconds, args.connections))
            print(
                f"round {round_no + 1}: p99 quiet {quiet[-1][2]:.2f} ms, scraped "
                f"{scraped[-1][2]:.2f} ms ({len(durations)} scrapes, median "
                f"{statistics.median(durations) * 1000:.1f} ms) | req/s {quiet[-1][0]:.0f} vs "
                f"{scraped[-1][0]:.0f}",
                flush=True,
            )
    p99 = statistics.median(s[2] / q[2] for s, q in zip(scraped, quiet, strict=True))
    print(f"p99 while scraped: median {p99:.3f}x of unscraped (target <= 1.20x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Many short rounds: on a shared machine throughput drifts by 10-20% within a minute, and
    # a round's ratios compare runs at most (variants x seconds) apart.
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    parser.add_argument("--variants", default="abcde", help="a subset of part 1, e.g. acd")
    parser.add_argument(
        "--set", action="append", default=[], metavar="VAR=VALUE", help="extra environment"
    )
    args = parser.parse_args()
    args.set = dict(item.split("=", 1) for item in args.set)
    if "a" not in args.variants:
        raise SystemExit("--variants must include a: every ratio is to a")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as folder, otlp_sink() as sink:
        if args.part in ("1", "all"):
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            seed(url)
            part_one(url, sink, args)
        if args.part in ("2", "all"):
            part_two(folder, sink, args)


if __name__ == "__main__":
    main()
