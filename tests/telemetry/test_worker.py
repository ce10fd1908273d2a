"""`ticker-converter worker` (no API) serves its own metrics, ingest runs included."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.telemetry.conftest import value
from tests.telemetry.processes import cli


def test_the_worker_serves_its_registry_on_the_metrics_port(tmp_path: Path) -> None:
    with cli(tmp_path, "worker", "--metrics-port", "{port}") as worker:

        def after_the_first_run() -> str | None:
            text = httpx.get(f"{worker.url}/metrics").text
            ran = value(text, "tickerconv_ingest_runs_total", job="prices_daily", outcome="success")
            return text if ran == 1 else None

        text = worker.until(after_the_first_run, "no prices_daily run was counted")
    assert value(text, "tickerconv_scheduler_leader") == 1
    assert value(text, "tickerconv_ingest_records_total", kind="prices", result="stored") == 14
