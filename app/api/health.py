"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app import db
from app.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the database answers", response_model=None)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    try:
        await asyncio.to_thread(db.ping, runtime.engine)
    except SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    leader = runtime.scheduler.is_leader if runtime.scheduler else False
    return JSONResponse({"status": "ready", "database": "ok", "scheduler_leader": leader})
