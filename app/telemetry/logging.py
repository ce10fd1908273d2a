"""JSON log lines carrying trace_id, span_id and the ingest run id; secrets masked.

`configure_logging()` installs one handler on the root logger; uvicorn's loggers (access log
included) propagate to it, so every line of the process has the same shape.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

from app.telemetry.redact import Redactor

_RUN_ID: ContextVar[int | None] = ContextVar("ingest_run_id", default=None)
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


@contextmanager
def run_context(run_id: int) -> Iterator[None]:
    """Log lines written inside (in this task, its children and worker threads) carry it."""
    token = _RUN_ID.set(run_id)
    try:
        yield
    finally:
        _RUN_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            doc["trace_id"] = format(context.trace_id, "032x")
            doc["span_id"] = format(context.span_id, "016x")
        run_id = getattr(record, "run_id", None) or _RUN_ID.get()
        if run_id is not None:
            doc["run_id"] = run_id
        if record.exc_info:
            doc["exception"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: the same masking, one readable line."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def configure_logging(
    level: str = "INFO",
    *,
    fmt: str = "json",
    redact: Redactor | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one writing `fmt` lines to `stream`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN:  # uvicorn's own handlers would print a second, plain copy
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
