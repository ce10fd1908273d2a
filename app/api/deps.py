"""Shared request dependencies: the app's runtime state, typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from app.config import Settings
from app.ingest.pipeline import Ingestor
from app.ingest.scheduler import IngestScheduler


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    ingestor: Ingestor
    scheduler: IngestScheduler | None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
