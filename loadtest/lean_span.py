"""A measured alternative, not the product: the server span written with the SDK directly.

Issue 4 names FastAPIInstrumentor for the server span, and its targets c (10% sampling) and d
(100%) are out of its reach here: its middleware costs ~140 us per traced request before any
export (`python -m loadtest.asgi_cost`). This middleware emits the span the instrumentor would
(name "GET /route", kind SERVER, the stable HTTP semantic-convention attributes, W3C parent,
ERROR on 5xx), so that `bench_telemetry --variants afghi` can tell what the choice costs:

  f  this span + the convert child spans, default sampling (the gate's rule)
  g  the same at 100%
  h  this span alone at 100% (the convert child spans switched off)
  i  this span alone at the default sampling
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.main import create_app
from app.telemetry import _NOTHING, Telemetry, setup
from app.telemetry.tracing import _ADMITTED, UNTRACED_URLS, admitted


class _Headers(Getter[Scope]):
    """The getter `propagate.extract` needs, over ASGI's raw header pairs."""

    def get(self, carrier: Scope, key: str) -> list[str] | None:
        raw = key.encode()
        found = [v.decode("latin-1") for k, v in carrier["headers"] if k == raw]
        return found or None

    def keys(self, carrier: Scope) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier["headers"]]


_GETTER = _Headers()


class LeanServerSpan:
    def __init__(self, app: ASGIApp, provider: TracerProvider, *, ratio: float) -> None:
        self.app, self.ratio = app, ratio
        self.tracer = provider.get_tracer("loadtest.lean_span")
        self.excluded = frozenset(UNTRACED_URLS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in self.excluded
            or not admitted(scope, self.ratio)
        ):
            await self.app(scope, receive, send)
            return
        await self._traced(scope, receive, send)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        parent = None
        if any(k == b"traceparent" for k, _ in scope["headers"]):
            parent = propagate.extract(scope, getter=_GETTER)
        method = scope["method"]
        host, port = scope.get("server") or ("", 0)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": scope["scheme"],
            "url.path": scope["path"],
            "server.address": host,
            "server.port": port,
            "network.protocol.version": scope["http_version"],
        }
        if scope["query_string"]:
            attributes["url.query"] = scope["query_string"].decode("latin-1")
        if scope.get("client"):
            attributes["client.address"] = scope["client"][0]
        for key, value in scope["headers"]:
            if key == b"user-agent":
                attributes["user_agent.original"] = value.decode("latin-1")
        token = _ADMITTED.set(True)
        span = self.tracer.start_span(method, parent, kind=SpanKind.SERVER, attributes=attributes)
        attached = context.attach(trace.set_span_in_context(span, parent))
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            context.detach(attached)
            _ADMITTED.reset(token)
            span.end()


def install(app: FastAPI, provider: TracerProvider, *, ratio: float | None) -> None:
    """In place of `tracing.instrument_app`: the lean span outermost."""
    plain = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        return LeanServerSpan(plain(), provider, ratio=1.0 if ratio is None else ratio)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def create_lean_app(
    settings: Settings, telemetry: Telemetry, *, child_spans: bool = True
) -> FastAPI:
    """The service with this span in place of FastAPIInstrumentor's."""
    if not child_spans:
        telemetry.child_span = lambda name, **attributes: _NOTHING  # type: ignore[method-assign]
    # The one swap: `attach` installs this span instead of FastAPIInstrumentor's.
    with mock.patch.object(setup, "instrument_app", install):
        return create_app(settings, telemetry=telemetry, freeze_heap=True)
