"""Scheduler leader election: exactly one process ingests into one database.

PostgreSQL: a session-level advisory lock held on a dedicated connection; if that process
dies, its connection closes and the lock frees itself. SQLite: an exclusive `flock` on a file
beside the database (SQLite is a single-host, single-writer store).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

ADVISORY_KEY = 0x7469636B  # "tick": one key per database


class LeaderLock(Protocol):
    @property
    def held(self) -> bool: ...

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class AdvisoryLock:
    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self._engine, self._key = engine, key
        self._connection: Connection | None = None

    @property
    def held(self) -> bool:
        if self._connection is None:
            return False
        try:  # the lock lives as long as its session: check the session is still there
            self._connection.execute(text("SELECT 1"))
        except Exception:
            self._drop()
            return False
        return True

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.held
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
        if got.scalar_one():
            self._connection = connection
            return True
        connection.close()
        return False

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
            finally:
                self._connection = None

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._connection.close()
        finally:
            self._connection = None


class FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leader_lock(engine: Engine) -> LeaderLock:
    url = make_url(str(engine.url))
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine)
    database = url.database or ""
    if database in ("", ":memory:"):
        return FileLock(Path("var") / "memory.scheduler.lock")
    return FileLock(Path(database).with_suffix(".scheduler.lock"))
