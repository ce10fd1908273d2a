"""The benchmark commands keep working (tiny sizes; the real runs are documented in README)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
