"""`ticker-converter worker` (no API) serves its own metrics, ingest runs included."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.telemetry.conftest import value
from tests.telemetry.test_logging import socket_port


def test_the_worker_serves_its_registry_on_the_metrics_port(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TICKER_DATABASE_URL": f"sqlite:///{tmp_path / 'ticker.db'}",
        "TICKER_INITIAL_BACKFILL_DAYS": "2",
        "TICKER_LEADER_RETRY_SECONDS": "0.2",
    }
    with socket_port() as port:
        pass
    command = [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                runs = value(
                    text, "tickerconv_ingest_runs_total", job="prices_daily", outcome="success"
                )
                if runs == 1:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "no run was counted"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert value(text, "tickerconv_scheduler_leader") == 1
    assert value(text, "tickerconv_ingest_records_total", kind="prices", result="stored") == 14
