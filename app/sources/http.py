"""HTTP plumbing for the real providers: one GET that maps transport trouble to our errors."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from app.sources.base import (
    AuthFailed,
    BadPayload,
    SourceTimeout,
    Throttled,
    UnknownSymbol,
    UpstreamUnavailable,
)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


async def get_json(
    client: httpx.AsyncClient, url: str, *, params: dict[str, str], source: str
) -> Any:
    """GET `url` and decode JSON with exact decimals; raise a SourceError for any failure."""
    try:
        response = await client.get(url, params=params)
    except httpx.TimeoutException as error:
        raise SourceTimeout(f"timed out: {type(error).__name__}", source=source) from error
    except httpx.TransportError as error:
        raise UpstreamUnavailable(
            f"transport error: {type(error).__name__}", source=source
        ) from error
    status = response.status_code
    if status in (401, 403):
        raise AuthFailed(f"HTTP {status}", source=source)
    if status == 429:
        raise Throttled("HTTP 429", source=source, retry_after=_retry_after(response, 60.0))
    if status == 404:
        raise UnknownSymbol(f"HTTP 404 for {response.url.path}", source=source)
    if status >= 500:
        raise UpstreamUnavailable(f"HTTP {status}", source=source)
    if status >= 400:
        raise BadPayload(f"HTTP {status}", source=source)
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadPayload(f"invalid JSON: {error}", source=source) from error


def new_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": "ticker-converter"},
        follow_redirects=True,
    )
