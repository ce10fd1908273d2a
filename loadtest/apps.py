"""ASGI apps for the benchmarks: `uvicorn --factory loadtest.apps:bare` (or `:service`)."""

from __future__ import annotations

from fastapi import FastAPI

from app.config import load_settings
from app.main import create_app


def bare() -> FastAPI:
    """The baseline: FastAPI with one endpoint returning a small dict."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok", "service": "ticker-converter"}

    return app


def service() -> FastAPI:
    """The real service as configured by TICKER_* variables, without the scheduler."""
    return create_app(load_settings(scheduler_enabled=False))
