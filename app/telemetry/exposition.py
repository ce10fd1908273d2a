"""GET /metrics: the registry plus the cached per-symbol block, rendered in a worker thread.

OpenMetrics when the scraper asks for it (`Accept: application/openmetrics-text`; exemplars
exist only there), the Prometheus text format otherwise. Rendering runs off the event loop,
so a scrape does not stall the requests being served meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from starlette.requests import Request
from starlette.responses import Response

from app.telemetry.freshness import SymbolFreshness

_EOF = b"# EOF\n"


def wants_openmetrics(accept: str) -> bool:
    return any(
        part.split(";")[0].strip() == "application/openmetrics-text" for part in accept.split(",")
    )


def render(
    registry: CollectorRegistry, freshness: SymbolFreshness | None, *, openmetrics: bool
) -> bytes:
    extra = freshness.render() if freshness is not None else b""
    if not openmetrics:
        return text_latest(registry) + extra
    body: bytes = openmetrics_latest(registry)  # type: ignore[no-untyped-call]
    assert body.endswith(_EOF)
    return body[: -len(_EOF)] + extra + _EOF


def metrics_endpoint(
    registry: CollectorRegistry, freshness: SymbolFreshness | None
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        openmetrics = wants_openmetrics(request.headers.get("accept", ""))
        body = await asyncio.to_thread(render, registry, freshness, openmetrics=openmetrics)
        return Response(body, media_type=OPENMETRICS_TYPE if openmetrics else CONTENT_TYPE_LATEST)

    return metrics
