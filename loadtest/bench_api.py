"""Benchmark: GET /api/v1/convert against a bare FastAPI GET /ping.

    python -m loadtest.bench_api [--rounds 5] [--seconds 10] [--connections 32]
                                 [--telemetry off|default]

Each app runs in its own single uvicorn process on 127.0.0.1 (no --workers); wrk, another
process, loads one of them at a time, alternating the order every round. The service runs on
the embedded default (SQLite, simulated market ingested beforehand). Reported: requests/s and
p50/p99 latency per round, and medians; target convert >= 0.75x bare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from app import db
from app.config import load_settings
from app.ingest.jobs import run_daily_fx, run_daily_prices
from app.ingest.pipeline import Ingestor
from app.sources.registry import build_sources

CONVERT = "/api/v1/convert?amount=100&from=USD&to=GBP"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_url: str, *, symbols: list[str] | None = None, days: int = 30) -> None:
    """Ingest `days` trading days of the simulated market (default symbols unless given)."""
    extra = {"symbols": symbols} if symbols else {}
    settings = load_settings(database_url=database_url, initial_backfill_days=days, **extra)
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    sources = build_sources(settings)
    ingestor = Ingestor(engine=engine, sources=sources, settings=settings)

    async def go() -> None:
        await run_daily_prices(ingestor)
        await run_daily_fx(ingestor)
        await sources.aclose()

    asyncio.run(go())
    engine.dispose()


def service_env(database_url: str) -> dict[str, str]:
    """What every benchmarked service process is started with: its database, quiet logs."""
    return {"TICKER_DATABASE_URL": database_url, "TICKER_LOG_LEVEL": "WARNING"}


@contextmanager
def server(
    factory: str, env: dict[str, str], *, prefix: Sequence[str] = (), timeout: float = 30
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`loadtest.apps:<factory>` in one uvicorn process on a free port, run under `prefix`
    (say, valgrind) when given: the process and its base URL, once it accepts connections."""
    port = free_port()
    process = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"loadtest.apps:{factory}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise SystemExit(f"{factory} did not start")
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=timeout)


@contextmanager
def serve(factory: str, env: dict[str, str]) -> Iterator[str]:
    with server(factory, env) as (_, base):
        yield base


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds that process `pid` (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of one bounded wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--telemetry",
        choices=["off", "default"],
        default="off",
        help="the service's telemetry (its cost is what bench_telemetry measures)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        seed(url)
        env = service_env(url)
        if args.telemetry == "off":
            env |= {"TICKER_METRICS_ENABLED": "false", "OTEL_SDK_DISABLED": "true"}
        with serve("service", env) as service, serve("bare", env) as bare:
            targets = {"convert": service + CONVERT, "bare": bare + "/ping"}
            for target in targets.values():  # warm-up, and a check that both answer 200
                wrk(target, 2, args.connections)
            results: dict[str, list[tuple[float, float, float]]] = {"convert": [], "bare": []}
            for round_no in range(args.rounds):
                order = ("convert", "bare") if round_no % 2 == 0 else ("bare", "convert")
                for name in order:
                    results[name].append(wrk(targets[name], args.seconds, args.connections))
                c, b = results["convert"][-1], results["bare"][-1]
                print(
                    f"round {round_no + 1} ({order[0]} first): convert {c[0]:8.0f} req/s "
                    f"p50 {c[1]:.2f} ms p99 {c[2]:.2f} ms | bare {b[0]:8.0f} req/s "
                    f"p50 {b[1]:.2f} ms p99 {b[2]:.2f} ms | ratio {c[0] / b[0]:.2f}"
                )
    ratios = [c[0] / b[0] for c, b in zip(results["convert"], results["bare"], strict=True)]
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in results.items()}
    print(
        f"median: convert {med['convert'][0]:.0f} req/s (p50 {med['convert'][1]:.2f} ms, "
        f"p99 {med['convert'][2]:.2f} ms); bare {med['bare'][0]:.0f} req/s "
        f"(p50 {med['bare'][1]:.2f} ms, p99 {med['bare'][2]:.2f} ms); "
        f"median ratio {statistics.median(ratios):.2f}x (target >= 0.75x)"
    )


if __name__ == "__main__":
    main()
