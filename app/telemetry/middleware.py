"""HTTP metrics as a pure ASGI middleware (a Starlette "http" middleware class halves throughput).

`route` is the matched route's template, read from the scope after routing; requests that
match no route share one value, and unknown methods are folded into `other`, so no client
can create series.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.telemetry import Telemetry
from app.telemetry.catalog import UNMATCHED_ROUTE, Children

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry
        self._metrics = metrics = telemetry.metrics
        self._requests = Children(metrics.http_requests)
        self._duration = Children(metrics.http_duration)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        self._metrics.http_in_flight += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            self._metrics.http_in_flight -= 1
            self._record(scope, status, elapsed)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        method = scope["method"]
        if method not in _METHODS:
            method = "other"
        self._requests[route, method, status].inc()
        self._duration[route, method].observe(elapsed, self.telemetry.exemplar())
