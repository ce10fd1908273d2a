"""The benchmark commands keep working (tiny sizes; the real runs are documented in README)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.config import load_settings
from app.telemetry.setup import build_telemetry
from loadtest import apps
from loadtest.asgi_cost import VARIANTS
from loadtest.bench_api import cpu_seconds, seed
from loadtest.instructions import EVENTS, PerRequest, callgrind, count, report, window
from loadtest.lean_span import create_lean_app
from tests.conftest import port_open, require

ROOT = Path(__file__).resolve().parents[1]


def test_ingest_benchmark_runs_and_reports_a_ratio() -> None:
    require(port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.bench_ingest",
            "--symbols",
            "20",
            "--days",
            "5",
            "--rounds",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ratios = re.findall(r"median ratio pipeline/raw on (\w+): ([0-9.]+)x", done.stdout)
    assert [name for name, _ in ratios] == ["sqlite", "postgres"]
    assert all(float(value) > 0 for _, value in ratios)
    assert "100 rows" in done.stdout


def test_the_in_process_cost_benchmark_runs_every_variant() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.asgi_cost", "--rounds", "1", "--requests", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = re.findall(r"^(\S+)\s+([0-9.]+) us/request", done.stdout, re.MULTILINE)
    assert [name for name, _ in rows] == list(VARIANTS)  # every variant ran
    assert all(float(us) > 0 for _, us in rows)
    # The split of `sampled` found traced requests, and they cost more than untraced ones.
    (costs,) = re.findall(r"a traced request costs ([0-9.]+)x an untraced one", done.stdout)
    assert float(costs) > 1


def test_cpu_seconds_reads_what_a_process_spent_in_its_threads() -> None:
    """bench-telemetry divides a server's CPU by its requests: it must see every thread."""
    spin = (
        "import threading, time\n"
        "def spin():\n"
        "    end = time.process_time() + 0.3\n"
        "    while time.process_time() < end: pass\n"
        "worker = threading.Thread(target=spin); worker.start(); worker.join()\n"
        "print('spun', flush=True); time.sleep(30)\n"
    )
    with subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stdout.readline() == "spun\n"
        user, system = cpu_seconds(child.pid)
        time.sleep(0.3)  # asleep: no more CPU
        later = cpu_seconds(child.pid)
        child.kill()
    assert 0.25 <= user + system < 1.0
    assert later[0] + later[1] - (user + system) < 0.05


def test_cachegrind_counts_grow_with_the_work_and_nothing_else() -> None:
    """loadtest.instructions differences two runs: that is sound only if a count is linear in
    the work done and repeatable (here to ~0.2%: what a run's start executes varies a little)."""
    require(shutil.which("valgrind") is not None, "valgrind (apt-get install -y valgrind)")

    def instructions(loops: int) -> int:
        program = f"def run(n):\n    for _ in range(n): pass\nrun({loops})"
        return count([sys.executable, "-I", "-S", "-c", program]).events["Ir"]

    base, once, twice = instructions(0), instructions(50_000), instructions(100_000)
    assert once - base > 50_000  # at least an instruction per loop
    assert twice - once == pytest.approx(once - base, rel=0.03)
    assert instructions(50_000) == pytest.approx(once, rel=0.005)


def test_the_report_sets_sampled_against_the_mix_at_the_share_it_traced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def counted(instructions: float, spans: float) -> PerRequest:
        return PerRequest({e: instructions if e == "Ir" else 0.0 for e in EVENTS}, spans)

    # 3 spans per traced request; 0.3 per sampled request: a tenth of them traced.
    report(
        {
            "off": counted(80, 0),
            "metrics": counted(100, 0),
            "sampled": counted(209, 0.3),
            "traced+encode": counted(1000, 3),
        }
    )
    printed = capsys.readouterr().out
    assert "sampled traced 10.0% of its requests" in printed
    assert re.search(r"instructions\s+mix\s+190\s+sampled\s+209\s+\(1\.10x\)", printed)
    assert re.search(r"off / variant \(Ir\)\s+1\.000\s+0\.800\s+0\.383\s+0\.080", printed)


POLLING = """
import select, sys
def run(n):
    for _ in range(n): pass
while True:  # polls, as uvicorn ticks: callgrind takes commands only while code runs
    if select.select([sys.stdin], [], [], 0.05)[0]:
        line = sys.stdin.readline()
        if not line:
            break
        run(int(line))
        print("done", flush=True)
"""


def test_a_callgrind_window_counts_only_what_runs_inside_it(tmp_path: Path) -> None:
    """`--served` zeroes a running server's counters after its warm-up and dumps them after
    the measured requests; nothing before the window may leak into it."""
    require(shutil.which("callgrind_control") is not None, "valgrind (apt-get install -y valgrind)")
    out = tmp_path / "callgrind.out"
    program = [*callgrind(out), sys.executable, "-I", "-S", "-c", POLLING]
    with subprocess.Popen(
        program, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        def work(loops: int) -> None:
            stdin.write(f"{loops}\n")
            stdin.flush()
            assert stdout.readline() == "done\n"

        work(1_000_000)  # before any window: ten times what the first window holds
        with window(process.pid, out) as once:
            work(100_000)
        with window(process.pid, out) as twice:
            work(200_000)
        stdin.close()
    assert once["Ir"] > 100_000 * 20
    assert twice["Ir"] == pytest.approx(2 * once["Ir"], rel=0.1)


@pytest.mark.parametrize(("variant", "spans"), [("metrics", 0), ("traced+encode", 3 * 5)])
def test_the_counted_child_reports_the_spans_of_its_measured_requests(
    variant: str, spans: int
) -> None:
    """The traced share of `sampled` is its spans over traced+encode's spans per request."""
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.instructions", "--child", variant, "5", "--warm", "7"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split()[-1] == str(spans)


def test_the_lean_alternative_emits_the_server_span_the_instrumentor_would(
    tmp_path: Path,
) -> None:
    """bench_telemetry's f/g/h variants compare like with like only if they trace the same."""
    url = f"sqlite:///{tmp_path / 'lean.db'}"
    seed(url, symbols=["AAPL"], days=3)
    settings = load_settings(database_url=url, scheduler_enabled=False)
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(
        settings, processors=[SimpleSpanProcessor(exporter)], env={"OTEL_TRACES_SAMPLER_ARG": "1"}
    )
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with TestClient(create_lean_app(settings, telemetry)) as client:
        answer = client.get(
            "/api/v1/convert?amount=10&from=USD&to=GBP", headers={"traceparent": parent}
        )
        assert answer.status_code == 200
        assert client.get("/nowhere").status_code == 404
        assert client.get("/health").status_code == 200
    spans = exporter.get_finished_spans()
    (server,) = [s for s in spans if s.name == "GET /api/v1/convert"]
    assert server.kind is SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent is not None and format(server.parent.span_id, "016x") == parent[36:52]
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/api/v1/convert"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.query"] == "amount=10&from=USD&to=GBP"
    children = {s.name for s in spans if s.parent and s.parent.span_id == server.context.span_id}
    assert children == {"convert.rate", "convert.compute"}
    (unmatched,) = [s for s in spans if s.kind is SpanKind.SERVER and s is not server]
    assert unmatched.name == "GET"  # no route: no template to name it by
    assert dict(unmatched.attributes or {})["http.response.status_code"] == 404
    telemetry.shutdown()


def test_the_burst_control_spends_its_cpu_in_the_chosen_share_of_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_telemetry's x and y variants: the service, plus BURST_US of CPU before a
    BURST_RATIO share of requests (here all of them, then none)."""
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    seed(url, symbols=["AAPL"], days=3)
    for name, value in {
        "TICKER_DATABASE_URL": url,
        "OTEL_SDK_DISABLED": "true",
        "BURST_US": "100000",
        "BURST_RATIO": "1",
    }.items():
        monkeypatch.setenv(name, value)

    def took(client: TestClient, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            assert client.get("/api/v1/convert?amount=1&from=USD&to=GBP").status_code == 200
        return time.perf_counter() - started

    with TestClient(apps.burst()) as client:
        assert took(client, 3) >= 3 * 0.1  # every request burst
    monkeypatch.setenv("BURST_RATIO", "0")
    with TestClient(apps.burst()) as client:
        assert took(client, 3) < 0.1  # not even one did
