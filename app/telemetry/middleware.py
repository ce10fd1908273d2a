"""HTTP metrics as a pure ASGI middleware (a Starlette "http" middleware class halves throughput).

`route` is the matched route's template, read from the scope after routing; requests that
match no route share one value, and unknown methods are folded into `other`, so no client
can create series.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.telemetry import Telemetry
from app.telemetry.catalog import UNMATCHED_ROUTE
from app.telemetry.loop_metrics import CounterChild, HistogramChild

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self._metrics = telemetry.metrics
        self._exemplar = telemetry.exemplar if telemetry.provider is not None else None
        # (route, method, status) -> its counter and its histogram: one lookup per request.
        self._series: dict[tuple[str, str, int], tuple[CounterChild, HistogramChild]] = {}

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

        metrics = self._metrics
        start = time.perf_counter()
        metrics.http_in_flight += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            metrics.http_in_flight -= 1
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            key = (route, scope["method"], status)
            series = self._series.get(key) or self._new_series(key)
            series[0].inc()
            series[1].observe(elapsed, self._exemplar and self._exemplar())

    def _new_series(self, key: tuple[str, str, int]) -> tuple[CounterChild, HistogramChild]:
        route, method, status = key
        if method not in _METHODS:
            method = "other"
        metrics = self._metrics
        series = (
            metrics.http_requests.labels(route, method, status),
            metrics.http_duration.labels(route, method),
        )
        if len(self._series) < 10_000:  # methods outside _METHODS are unbounded as keys
            self._series[key] = series
        return series
