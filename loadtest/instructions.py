"""Instructions per /convert request, counted by valgrind: figures without the machine's noise.

    python -m loadtest.instructions [--requests 2000] [--variants off,metrics,sampled,traced+encode]
                                    [--ll SIZE,ASSOC,LINE]
    python -m loadtest.instructions --served [--variants abcde] [--requests 2000]

Throughput on this shared machine drifts 10-20% within a minute; an instruction count does not:
the same program, inputs and seed execute the same instructions whatever else the machine runs.
Each variant of `loadtest.asgi_cost` runs in its own process under cachegrind (caches and branch
predictor simulated) twice, once with `--requests` more requests than the other after the same
warm-up; the difference, divided by `--requests`, is what one request executes: instructions,
simulated first-level and last-level cache misses, mispredicted branches. `--ll` sets the
simulated last-level cache (default: cachegrind takes the host's; here that is a 480 MiB L3
that holds everything, `2097152,16,64` simulates this machine's 2 MiB L2 instead).

For `sampled` (the default 10%) it also prints the linear mix of `metrics` and `traced+encode`
at the share of requests it traced: what the mix would execute if a traced request cost at 10%
what it costs at 100%. About a minute per process, two at a time.

`--served` counts bench-telemetry's variants (a off, b metrics, c 10%, d 100%, e the usual
recipe, ...) as they are benchmarked: one uvicorn process each under callgrind, spans exported
to a local OTLP sink, the server's share included, and prints their ratios to a by instructions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, closing, contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from loadtest.asgi_cost import VARIANTS, time_requests, variant_app
from loadtest.bench_api import CONVERT, seed, server, service_env
from loadtest.bench_telemetry import otlp_sink, variants

EVENTS = {  # cachegrind's event -> what the table calls it
    "Ir": "instructions",
    "I1mr": "I1 misses",
    "D1mr": "D1 read misses",
    "D1mw": "D1 write misses",
    "ILmr": "LL code misses",
    "DLmr": "LL read misses",
    "DLmw": "LL write misses",
    "Bcm": "cond. mispredicted",
    "Bim": "indirect mispredicted",
}
BASE = 500  # measured requests in the shorter run of each pair
WARM = 1500  # requests before either run's measured part: caches and specialisation settled
WARM_SERVED = 300
FIXED = {"PYTHONHASHSEED": "0"}  # string hashes move dict probes, and so the counts


@dataclass(frozen=True)
class Counted:
    events: dict[str, int]
    output: str  # what the program printed on stdout


def _valgrind(*options: str, ll: str | None) -> list[str]:
    """valgrind with caches and branch predictor simulated, as the start of a command line."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    simulated = ["--cache-sim=yes", "--branch-sim=yes", *([f"--LL={ll}"] if ll else [])]
    return [valgrind, "-q", *options, *simulated]


def _totals(out: Path) -> dict[str, int]:
    """The event totals of a cachegrind or callgrind output file."""
    names: list[str] = []
    totals: list[int] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(value) for value in line.split()[1:]]
    return dict(zip(names, totals, strict=True))


def count(argv: Sequence[str], *, ll: str | None = None) -> Counted:
    """Runs `argv` under cachegrind and returns its whole-run event totals. Python's string
    hashes are fixed: with a random seed the same loop executed 4% more or fewer instructions."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cachegrind.out"
        done = subprocess.run(
            [*_valgrind("--tool=cachegrind", f"--cachegrind-out-file={out}", ll=ll), *argv],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **FIXED},
        )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed under valgrind:\n{done.stderr[-2000:]}")
        return Counted(_totals(out), done.stdout)


@dataclass(frozen=True)
class PerRequest:
    events: dict[str, float]
    spans: float | None = None  # spans ended per request; None: not counted (served)


def per_request(variant: str, requests: int, *, ll: str | None = None) -> PerRequest:
    """One request's events: two runs `requests` apart, differenced."""

    def run(n: int) -> Counted:
        child = [sys.executable, "-m", "loadtest.instructions", "--child", variant, str(n)]
        return count(child, ll=ll)

    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(run, (BASE, BASE + requests))
    events = {e: (long.events[e] - short.events[e]) / requests for e in EVENTS}
    spans = (int(long.output.split()[-1]) - int(short.output.split()[-1])) / requests
    return PerRequest(events, spans)


def callgrind(out: Path, *, ll: str | None = None) -> list[str]:
    """A command-line prefix running a program under callgrind, dumping into `out`.N."""
    return _valgrind("--tool=callgrind", f"--callgrind-out-file={out}", ll=ll)


@contextmanager
def window(pid: int, out: Path) -> Iterator[dict[str, int]]:
    """What the process `pid` (started under `callgrind(out)`) executes inside the block: its
    counters are zeroed on entry and dumped on exit, into the dict yielded. callgrind takes a
    command when the process next runs code, so the process must not block for long."""
    control = shutil.which("callgrind_control")
    if control is None:
        raise SystemExit("callgrind_control is missing: apt-get install -y valgrind")
    subprocess.run([control, "--zero", str(pid)], check=True, capture_output=True)
    counted: dict[str, int] = {}
    yield counted
    subprocess.run([control, "--dump", str(pid)], check=True, capture_output=True)
    dumps = out.parent.glob(f"{out.name}.*")
    counted.update(_totals(max(dumps, key=lambda dump: int(dump.suffix[1:]))))


def served(variant: str, requests: int, *, sink: str, url: str, ll: str | None) -> PerRequest:
    """One request's events in a bench-telemetry variant served by uvicorn under callgrind,
    requests sent one after another on one keep-alive connection, counted after a warm-up.
    The process's every thread counts (span export too), and so does what uvicorn does
    meanwhile unasked (a tick every 0.1 s); the kernel's work for its sockets does not."""
    factory, env = variants(sink)[variant]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        env = {**service_env(url), **FIXED, **env}
        with (
            server(factory, env, prefix=callgrind(out, ll=ll), timeout=600) as (process, base),
            closing(HTTPConnection(urlsplit(base).netloc, timeout=60)) as connection,
        ):
            _get(connection, WARM_SERVED)
            with window(process.pid, out) as counted:
                _get(connection, requests)
    return PerRequest({e: counted[e] / requests for e in EVENTS})


def _get(connection: HTTPConnection, n: int) -> None:
    for _ in range(n):
        connection.request("GET", CONVERT)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"/convert answered {answer.status}")


async def _child(variant: str, n: int, warm: int) -> int:
    """Serves `warm` then `n` requests in process; returns the spans ended during the `n`."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'count.db'}"
        await asyncio.to_thread(seed, url)
        app, processor = variant_app(url, variant)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            await time_requests(app, warm)
            random.seed(7)  # the same requests sampled in both runs of a pair
            before = getattr(processor, "ended", 0)
            await time_requests(app, n)
            return getattr(processor, "ended", 0) - before


def report(results: dict[str, PerRequest]) -> None:
    names = list(results)
    print(f"{'per request':22s}" + "".join(f"{name:>15s}" for name in names))
    for event, label in EVENTS.items():
        print(f"{label:22s}" + "".join(f"{results[n].events[event]:15,.0f}" for n in names))
    for baseline in {"off", "a"} & results.keys():  # telemetry off, in process or served
        off = results[baseline].events["Ir"]
        ratios = "".join(f"{off / results[n].events['Ir']:15.3f}" for n in names)
        print(f"{baseline + ' / variant (Ir)':22s}{ratios}")
    if {"metrics", "sampled", "traced+encode"} <= results.keys():
        untraced, traced, sampled = (results[v] for v in ("metrics", "traced+encode", "sampled"))
        assert sampled.spans is not None and traced.spans
        share = sampled.spans / traced.spans
        print(f"sampled traced {share:.1%} of its requests; against the linear mix at that share:")
        for event, label in EVENTS.items():
            mix = (1 - share) * untraced.events[event] + share * traced.events[event]
            measured = sampled.events[event]
            ratio = f"({measured / mix:.2f}x)" if mix >= 1 else ""  # LL misses can be ~0
            print(f"  {label:20s} mix {mix:12,.0f}  sampled {measured:12,.0f}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--variants", help="off,metrics,sampled,traced+encode; --served: abcde")
    parser.add_argument("--served", action="store_true", help="bench-telemetry's served variants")
    parser.add_argument("--ll", help="simulated last-level cache: SIZE,ASSOC,LINE in bytes")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=int, default=WARM, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, n = args.child
        print(asyncio.run(_child(variant, int(n), args.warm)))
        return
    if args.served:
        chosen = list(args.variants or "abcde")
        known: Sequence[str] = list(variants("http://127.0.0.1:1"))
    else:
        chosen = (args.variants or "off,metrics,sampled,traced+encode").split(",")
        known = VARIANTS
    if unknown := set(chosen) - set(known):
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(known)}")
    if not args.served:
        report({v: per_request(v, args.requests, ll=args.ll) for v in chosen})
        return
    with tempfile.TemporaryDirectory() as folder, otlp_sink() as sink:
        url = f"sqlite:///{Path(folder) / 'served.db'}"
        seed(url)

        def one(variant: str) -> PerRequest:
            return served(variant, args.requests, sink=sink, url=url, ll=args.ll)

        with ThreadPoolExecutor(2) as pool:  # two at a time: this machine has two cores
            report(dict(zip(chosen, pool.map(one, chosen), strict=True)))


if __name__ == "__main__":
    main()
