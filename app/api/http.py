"""HTTP details shared by routers: opaque cursors and validators/cache headers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.errors import ApiError


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
