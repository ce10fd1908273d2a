"""HTTP details shared by routers: opaque cursors and validators/cache headers."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from app.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API handed out") from None


def cached(request: Request, model: BaseModel, *, immutable: bool) -> Response:
    """JSON with a strong ETag; 304 when the client has it. Stored history does not change
    once the day is past (`immutable`); anything that includes today may, so it is short."""
    body: Any = jsonable_encoder(model, by_alias=True)
    response = JSONResponse(body)
    etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=86400" if immutable else "public, max-age=60",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


class DirectRoute(APIRoute):
    """A route whose endpoint takes the `Request` and returns a `Response` itself.

    FastAPI's own handler solves dependencies, parses the query string and serialises the
    return value on every request; for an endpoint that does all of that itself (the
    `/convert` hot path) that machinery cost ~10% of the request (profiled). The route stays
    an `APIRoute`, so OpenAPI still documents it (`openapi_extra`, `responses`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def query_model(request: Request, model: type[M]) -> M:
    """Validate the query string with one pydantic model (the hot-path alternative to one
    FastAPI parameter per field, which costs more per request than the work behind it)."""
    try:
        query = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        return model.model_validate(dict(query))
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "query", "problem": e["msg"]}
            for e in error.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise ApiError(422, "invalid_request", message, details={"problems": problems}) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI `parameters` for a query model, so the docs stay exact."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": field.get("description", ""),
                "schema": {k: v for k, v in field.items() if k != "description"},
            }
            for name, field in schema["properties"].items()
        ]
    }
