"""JSON log lines: trace ids of the request they were written in, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import load_settings
from app.main import create_app
from app.sources.alphavantage import AlphaVantage
from app.telemetry.logging import configure_logging, run_context
from app.telemetry.redact import Redactor
from app.telemetry.setup import build_telemetry
from tests.api.conftest import NOW
from tests.sources import payloads
from tests.telemetry.conftest import ALWAYS, API_KEY
from tests.telemetry.processes import cli
from tests.upstream import FakeUpstream, Reply

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
PASSWORD = "hunter2-db-secret"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The root logger writing JSON into a buffer; the previous set-up restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging("INFO", redact=Redactor([API_KEY, PASSWORD]), stream=buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_line_written_during_a_request_carries_its_trace_id(json_logs: io.StringIO) -> None:
    url = f"postgresql+psycopg://nobody:{PASSWORD}@127.0.0.1:9/nothing?connect_timeout=1"
    settings = load_settings(database_url=url, scheduler_enabled=False)
    telemetry = build_telemetry(settings, env=ALWAYS)
    with TestClient(create_app(settings, clock=lambda: NOW, telemetry=telemetry)) as client:
        response = client.get("/api/v1/stocks", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 503
    (line,) = [x for x in lines(json_logs) if x["message"].startswith("database unavailable")]
    assert line["trace_id"] == TRACE_ID and len(line["span_id"]) == 16
    assert line["level"] == "ERROR" and line["logger"] == "app.api.errors"
    assert line["timestamp"].endswith("+00:00")
    assert PASSWORD not in json_logs.getvalue()
    telemetry.shutdown()


async def test_the_api_key_never_reaches_the_logs(json_logs: io.StringIO) -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # every request URL, key included
    try:
        with FakeUpstream(lambda request: Reply(body=payloads.DAILY)) as server:
            async with httpx.AsyncClient() as client:
                source = AlphaVantage(
                    api_key=SecretStr(API_KEY), base_url=server.url, client=client
                )
                await source.fetch_bars("IBM", date(2025, 3, 11), date(2025, 3, 12))
                logging.getLogger("app.test").warning("retrying with apikey=%s", API_KEY)
                try:
                    raise RuntimeError(f"upstream refused {server.url}/query?apikey={API_KEY}")
                except RuntimeError:
                    logging.getLogger("app.test").exception("call failed")
    finally:
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    text = json_logs.getvalue()
    assert "HTTP Request: GET" in text  # httpx did log the URL ...
    assert API_KEY not in text  # ... masked
    assert "apikey=***" in text


def test_ingest_run_lines_carry_the_run_id(json_logs: io.StringIO) -> None:
    with run_context(42):
        logging.getLogger("app.ingest").info("storing")
    logging.getLogger("app.ingest").info("idle")
    first, second = lines(json_logs)
    assert first["run_id"] == 42 and "run_id" not in second
    assert "trace_id" not in second  # no span: no ids


def test_redactor_masks_secret_values_pairs_and_url_passwords() -> None:
    redact = Redactor(["s3cr3t-value"])
    assert redact("token s3cr3t-value here") == "token *** here"
    assert (
        redact("GET /q?function=X&apikey=abc123&symbol=IBM")
        == "GET /q?function=X&apikey=***&symbol=IBM"
    )
    assert redact("postgresql://app:pa55@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact('{"password": "pw1"}') == '{"password": "***"}'
    assert redact("nothing to hide") == "nothing to hide"


def test_serve_writes_json_access_logs_with_the_trace_id(tmp_path: Path) -> None:
    """The real CLI and uvicorn: the access log shares the JSON shape and the trace id."""
    args = ("serve", "--port", "{port}", "--no-scheduler")
    with cli(tmp_path, *args, OTEL_TRACES_SAMPLER_ARG="1") as serve:
        response = serve.until(
            lambda: httpx.get(
                f"{serve.url}/api/v1/currencies", headers={"traceparent": TRACEPARENT}
            ),
            "serve did not start",
        )
        assert response.status_code == 200
    lines = serve.stderr.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records and len(records) == len(lines), serve.stderr  # every line is JSON
    (access,) = [
        r for r in records if r["logger"] == "uvicorn.access" and "currencies" in r["message"]
    ]
    assert access["trace_id"] == TRACE_ID
    assert '"GET /api/v1/currencies HTTP/1.1" 200' in access["message"]
