"""Instructions per /convert request, counted by valgrind's cachegrind: figures without noise.

    python -m loadtest.instructions [--requests 2000] [--variants off,metrics,sampled,traced+encode]
                                    [--ll SIZE,ASSOC,LINE]

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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from loadtest.asgi_cost import VARIANTS, time_requests, variant_app
from loadtest.bench_api import seed

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


@dataclass(frozen=True)
class Counted:
    events: dict[str, int]
    output: str  # what the program printed on stdout


def count(argv: Sequence[str], *, ll: str | None = None) -> Counted:
    """Runs `argv` under cachegrind and returns its whole-run event totals. Python's string
    hashes are fixed: with a random seed the same loop executed 4% more or fewer instructions."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cachegrind.out"
        options = ["--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes"]
        options += [f"--LL={ll}"] if ll else []
        done = subprocess.run(
            [valgrind, *options, f"--cachegrind-out-file={out}", *argv],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # string hashes move dict probes
        )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed under valgrind:\n{done.stderr[-2000:]}")
        names: list[str] = []
        totals: list[int] = []
        for line in out.read_text().splitlines():
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith("summary:"):
                totals = [int(value) for value in line.split()[1:]]
    return Counted(dict(zip(names, totals, strict=True)), done.stdout)


@dataclass(frozen=True)
class PerRequest:
    events: dict[str, float]
    spans: float  # spans ended per request


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


def _report(results: dict[str, PerRequest]) -> None:
    names = list(results)
    print(f"{'per request':22s}" + "".join(f"{name:>15s}" for name in names))
    for event, label in EVENTS.items():
        print(f"{label:22s}" + "".join(f"{results[n].events[event]:15,.0f}" for n in names))
    if "off" in results:
        off = results["off"].events["Ir"]
        ratios = "".join(f"{off / results[n].events['Ir']:15.3f}" for n in names)
        print(f"{'off / variant (Ir)':22s}{ratios}")
    if {"metrics", "sampled", "traced+encode"} <= results.keys():
        untraced, traced = results["metrics"], results["traced+encode"]
        share = results["sampled"].spans / traced.spans
        print(f"sampled traced {share:.1%} of its requests; against the linear mix at that share:")
        for event, label in EVENTS.items():
            mix = (1 - share) * untraced.events[event] + share * traced.events[event]
            measured = results["sampled"].events[event]
            ratio = f"({measured / mix:.2f}x)" if mix >= 1 else ""  # LL misses can be ~0
            print(f"  {label:20s} mix {mix:12,.0f}  sampled {measured:12,.0f}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--variants", default="off,metrics,sampled,traced+encode")
    parser.add_argument("--ll", help="simulated last-level cache: SIZE,ASSOC,LINE in bytes")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=int, default=WARM, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, n = args.child
        print(asyncio.run(_child(variant, int(n), args.warm)))
        return
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    _report({v: per_request(v, args.requests, ll=args.ll) for v in variants})


if __name__ == "__main__":
    main()
