"""The real CLI in a subprocess, on a free port of 127.0.0.1, stopped by its PID."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


@dataclass
class Cli:
    port: int
    process: subprocess.Popen[str]
    stderr: str = field(default="")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def until(self, probe: Callable[[], T | None], what: str, limit: float = 30.0) -> T:
        """Call `probe` until it returns something (connection errors are retried)."""
        deadline = time.monotonic() + limit
        while True:
            try:
                found = probe()
                if found is not None:
                    return found
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.process.poll() is None, what
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def cli(tmp_path: Path, *args: str, **env: str) -> Iterator[Cli]:
    """`python -m app.cli ARGS` with `{port}` in ARGS replaced, on a fresh SQLite file; its
    stderr is on `.stderr` once the block has ended."""
    port = free_port()
    environment = {
        **os.environ,
        "TICKER_DATABASE_URL": f"sqlite:///{tmp_path / 'ticker.db'}",
        "TICKER_INITIAL_BACKFILL_DAYS": "2",
        **env,
    }
    command = [sys.executable, "-m", "app.cli", *(a.format(port=port) for a in args)]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    running = Cli(port, process)
    try:
        yield running
    finally:
        process.terminate()
        running.stderr = process.communicate(timeout=15)[1]
