"""One error shape for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.convert.rates import RateError, StaleRate

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details or {}, headers


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _json(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return _json(error.status, error_body(error.code, error.message, error.details), error.headers)


async def _rate_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateError)
    details: dict[str, Any] = {}
    if isinstance(error, StaleRate):
        details = {"rate_date": error.rate_date.isoformat(), "rate_age_days": error.age_days}
    return _json(409, error_body(error.code, str(error), details))


async def _validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "problem": e["msg"]}
        for e in error.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return _json(422, error_body("invalid_request", message, {"problems": problems}))


async def _http(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return _json(error.status_code, error_body(code, str(error.detail)), error.headers)


async def _database(_: Request, error: Exception) -> JSONResponse:
    log.error("database unavailable: %s", type(error).__name__)
    return _json(
        503,
        error_body("database_unavailable", "the database is unavailable; retry shortly"),
        {"Retry-After": "5"},
    )


async def _internal(_: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=error)
    return _json(500, error_body("internal_error", "internal error"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RateError, _rate_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(Exception, _internal)
