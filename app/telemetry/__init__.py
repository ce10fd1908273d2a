"""Telemetry for the service: the only package that touches prometheus_client and the OTel SDK.

Business code receives a `Telemetry` and uses its small helpers: `span()` for a unit of work,
`step()` for a timed pipeline step, `exemplar()` for a latency observation, and the catalog's
metrics on `telemetry.metrics`. `Telemetry.off()` (the default everywhere) records into a
private registry that nobody exposes and traces nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, Tracer

from app.telemetry.catalog import Children, Metrics

_NOTHING: nullcontext[None] = nullcontext()
_NO_SPAN: nullcontext[Span] = nullcontext(trace.INVALID_SPAN)  # takes attributes, keeps none


@dataclass
class Telemetry:
    metrics: Metrics
    provider: TracerProvider | None = None
    exposed: bool = True  # metrics served on /metrics (False: telemetry off)
    sample_ratio: float | None = None  # our sampler's ratio; None: OTEL_TRACES_SAMPLER decides
    tracer: Tracer = field(init=False)

    def __post_init__(self) -> None:
        self.tracer = self.provider.get_tracer("app") if self.provider else trace.NoOpTracer()
        self._conversions = Children(self.metrics.conversions)
        self._rate_age = self.metrics.rate_age.labels()

    @classmethod
    def off(cls) -> Telemetry:
        return cls(Metrics(process=False), None, exposed=False)

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Span]:
        """A span around a unit of work; an exception marks it ERROR and is recorded. With
        tracing off, nothing at all (not even the API's no-op span machinery)."""
        if self.provider is None:
            return _NO_SPAN
        return self.tracer.start_as_current_span(name, attributes=attributes)

    def child_span(self, name: str, **attributes: Any) -> AbstractContextManager[Span | None]:
        """A child of the current span, or nothing when that one is not sampled (the hot
        path's spans cost nothing on the 90% of requests that are not traced)."""
        if not trace.get_current_span().is_recording():
            return _NOTHING
        return self.tracer.start_as_current_span(name, attributes=attributes)

    @contextmanager
    def step(self, step: str, **attributes: Any) -> Iterator[Span]:
        """A pipeline step: a span named `ingest.<step>` and one step-duration observation."""
        start = time.perf_counter()
        with self.span(f"ingest.{step}", **attributes) as span:
            try:
                yield span
            finally:
                self.metrics.ingest_step_duration.labels(step).observe(time.perf_counter() - start)

    def exemplar(self) -> dict[str, str] | None:
        """The current trace id, when the current span is sampled."""
        if self.provider is None:
            return None
        context = trace.get_current_span().get_span_context()
        if not context.trace_flags.sampled:
            return None
        return {"trace_id": format(context.trace_id, "032x")}

    def trace_id(self) -> str | None:
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    def converted(self, source: str, target: str, age_days: int) -> None:
        """One conversion served: the pair's counter and the rate-age histogram."""
        if not self.exposed:
            return
        self._conversions[source, target].inc()
        self._rate_age.observe(age_days * 86_400.0)

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
