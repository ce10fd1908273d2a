"""Every metric the service exposes: name, type, labels, buckets and help, declared once.

Metric names are an API (dashboards and alert rules select them), so they live here and
nowhere else. `Metrics` builds them on one `CollectorRegistry` (a fresh one per app and per
test) and pre-initialises every bounded label value it knows, so series exist before the
first event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from app.telemetry.loop_metrics import LoopCounter, LoopHistogram

# `_created` samples would double every counter's and histogram's series (and scrape cost).
disable_created_metrics()  # type: ignore[no-untyped-call]

NAMESPACE = "tickerconv"
MetricType = Literal["counter", "gauge", "histogram", "info"]

# Latency SLOs select an exact `le`, so these edges are part of the contract.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SOURCE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
DAY = 86_400.0
RATE_AGE_BUCKETS = (0.0, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 7 * DAY, 14 * DAY)

# Bounded label values that do not come from the configuration.
STEPS = ("fetch", "parse", "validate", "store", "publish")
KINDS = ("prices", "fx")
RECORD_RESULTS = ("stored", "unchanged", "rejected")
CHECK_RESULTS = ("pass", "fail")
JOB_EVENTS = ("executed", "error", "missed")
SPAN_OUTCOMES = ("exported", "failed", "dropped")
OPERATIONS = {"prices": "fetch_bars", "fx": "fetch_rates"}
UNMATCHED_ROUTE = "unmatched"


@dataclass(frozen=True)
class Spec:
    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None


def _spec(
    name: str,
    type: MetricType,
    help: str,
    *labels: str,
    buckets: tuple[float, ...] | None = None,
) -> Spec:
    return Spec(f"{NAMESPACE}_{name}", type, help, labels, buckets)


# --- HTTP ---------------------------------------------------------------------------------
HTTP_REQUESTS = _spec(
    "http_requests_total", "counter", "HTTP requests answered.", "route", "method", "code"
)
HTTP_DURATION = _spec(
    "http_request_duration_seconds",
    "histogram",
    "Time from request received to response sent.",
    "route",
    "method",
    buckets=HTTP_BUCKETS,
)
HTTP_IN_PROGRESS = _spec(
    "http_requests_in_progress", "gauge", "HTTP requests being served right now."
)
# --- ingestion ----------------------------------------------------------------------------
INGEST_RUNS = _spec("ingest_runs_total", "counter", "Ingest runs finished.", "job", "outcome")
INGEST_RUN_DURATION = _spec(
    "ingest_run_duration_seconds", "histogram", "Ingest run wall time.", "job", buckets=RUN_BUCKETS
)
INGEST_LAST_SUCCESS = _spec(
    "ingest_last_success_timestamp_seconds",
    "gauge",
    "When a run of this job last ended in success (0: never since start).",
    "job",
)
INGEST_RECORDS = _spec(
    "ingest_records_total", "counter", "Records through the store step.", "kind", "result"
)
INGEST_STEP_DURATION = _spec(
    "ingest_step_duration_seconds",
    "histogram",
    "Time per pipeline step and batch.",
    "step",
    buckets=STEP_BUCKETS,
)
# --- sources ------------------------------------------------------------------------------
SOURCE_REQUESTS = _spec(
    "source_requests_total",
    "counter",
    "Provider calls by outcome; circuit_open counts calls the breaker refused.",
    "source",
    "operation",
    "outcome",
)
SOURCE_DURATION = _spec(
    "source_request_duration_seconds",
    "histogram",
    "Provider call time, one attempt.",
    "source",
    "operation",
    buckets=SOURCE_BUCKETS,
)
SOURCE_CIRCUIT = _spec(
    "source_circuit_state", "gauge", "Circuit breaker: 0 closed, 1 half-open, 2 open.", "source"
)
SOURCE_FAILOVERS = _spec(
    "source_failovers_total", "counter", "Calls handed to the next provider.", "kind"
)
SOURCE_QUOTA = _spec(
    "source_quota_remaining",
    "gauge",
    "Calls left in today's client-side budget (+Inf: the provider has no daily quota).",
    "source",
)
# --- quality and freshness ----------------------------------------------------------------
QUALITY_CHECKS = _spec(
    "quality_checks_total", "counter", "Quality rule evaluations.", "rule", "result"
)
QUALITY_RATIO = _spec(
    "data_quality_ratio", "gauge", "Valid / checked records of the last run.", "kind"
)
# The two per-symbol gauges are rendered by app.telemetry.freshness as cached text, not by
# the registry: one series per configured symbol would cost ~6-11 us each on every scrape.
SYMBOL_LAST_BAR = _spec(
    "symbol_last_bar_timestamp_seconds",
    "gauge",
    "Start (UTC) of the day of the newest stored bar; 0 when none is stored.",
    "symbol",
)
SYMBOL_LAG = _spec(
    "symbol_lag_trading_days",
    "gauge",
    "NYSE sessions closed since the newest stored bar (+Inf when none is stored).",
    "symbol",
)
FX_LAST_RATE = _spec(
    "fx_last_rate_timestamp_seconds",
    "gauge",
    "Start (UTC) of the day of the newest stored rate; 0 when none is stored.",
    "base",
    "quote",
)
# --- conversion ---------------------------------------------------------------------------
CONVERSIONS = _spec(
    "conversions_total", "counter", "Amounts converted.", "from_currency", "to_currency"
)
RATE_AGE = _spec(
    "conversion_rate_age_seconds",
    "histogram",
    "Age of the rate a conversion used (as-of day minus rate day).",
    buckets=RATE_AGE_BUCKETS,
)
RATE_REFRESHES = _spec(
    "rate_cache_refreshes_total", "counter", "Reloads of the in-memory rate book.", "result"
)
# --- scheduler ----------------------------------------------------------------------------
JOB_EVENTS_TOTAL = _spec(
    "scheduler_job_events_total", "counter", "Scheduled job executions.", "job", "event"
)
JOB_LAG = _spec(
    "scheduler_job_lag_seconds", "gauge", "Actual minus scheduled start, last run.", "job"
)
LEADER = _spec("scheduler_leader", "gauge", "1 on the replica that holds the scheduler lock.")
# --- the trace pipeline -------------------------------------------------------------------
TRACE_SPANS = _spec(
    "trace_spans_total",
    "counter",
    "Sampled spans by fate: exported (the OTLP receiver took them), failed (it refused them, "
    "or was unreachable after retries), dropped (the export queue was full).",
    "outcome",
)
# --- build --------------------------------------------------------------------------------
BUILD = _spec("build", "info", "Build of the running service.", "version")

CATALOG: tuple[Spec, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Spec))


def exposed_name(spec: Spec) -> str:
    """The metric family name as it appears on /metrics (info adds `_info`)."""
    return f"{spec.name}_info" if spec.type == "info" else spec.name


def _counter(spec: Spec, registry: CollectorRegistry) -> Counter:
    assert spec.type == "counter", spec
    return Counter(spec.name, spec.help, spec.labels, registry=registry)


def _gauge(spec: Spec, registry: CollectorRegistry) -> Gauge:
    assert spec.type == "gauge", spec
    return Gauge(spec.name, spec.help, spec.labels, registry=registry)


def _histogram(spec: Spec, registry: CollectorRegistry) -> Histogram:
    assert spec.type == "histogram" and spec.buckets is not None, spec
    return Histogram(spec.name, spec.help, spec.labels, buckets=spec.buckets, registry=registry)


class Children(dict[tuple[object, ...], Any]):
    """A labelled metric's children by label values, each looked up once: `labels()` takes
    a lock and validates its arguments on every call, which the hot paths cannot afford."""

    def __init__(self, metric: Counter | Gauge | Histogram | LoopCounter | LoopHistogram) -> None:
        super().__init__()
        self.metric = metric

    def __missing__(self, key: tuple[object, ...]) -> Any:
        child = self[key] = self.metric.labels(*key)
        return child


@dataclass(frozen=True)
class Vocabulary:
    """The bounded label values this process knows up front (from its configuration)."""

    sources: dict[str, tuple[str, ...]]  # source -> operations it serves
    quota_sources: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ("prices_daily", "fx_daily", "backfill")
    scheduled_jobs: tuple[str, ...] = ("prices_daily", "fx_daily")
    currencies: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    run_outcomes: tuple[str, ...] = ("success", "partial", "failed")


class Metrics:
    """The catalog's metrics on one registry. Attribute names follow the spec constants."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry or CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        r = self.registry
        # The request path's metrics are written on the event loop only (see loop_metrics).
        self.http_requests = LoopCounter(HTTP_REQUESTS, r)
        self.http_duration = LoopHistogram(HTTP_DURATION, r)
        self.http_in_progress = _gauge(HTTP_IN_PROGRESS, r)
        # Written by the HTTP middleware on the event loop only; read at scrape time. A plain
        # int: the gauge's own inc()/dec() take a lock twice per request.
        self.http_in_flight = 0
        self.http_in_progress.set_function(lambda: self.http_in_flight)
        self.ingest_runs = _counter(INGEST_RUNS, r)
        self.ingest_run_duration = _histogram(INGEST_RUN_DURATION, r)
        self.ingest_last_success = _gauge(INGEST_LAST_SUCCESS, r)
        self.ingest_records = _counter(INGEST_RECORDS, r)
        self.ingest_step_duration = _histogram(INGEST_STEP_DURATION, r)
        self.source_requests = _counter(SOURCE_REQUESTS, r)
        self.source_duration = _histogram(SOURCE_DURATION, r)
        self.source_circuit = _gauge(SOURCE_CIRCUIT, r)
        self.source_failovers = _counter(SOURCE_FAILOVERS, r)
        self.source_quota = _gauge(SOURCE_QUOTA, r)
        self.quality_checks = _counter(QUALITY_CHECKS, r)
        self.quality_ratio = _gauge(QUALITY_RATIO, r)
        self.fx_last_rate = _gauge(FX_LAST_RATE, r)
        self.conversions = LoopCounter(CONVERSIONS, r)
        self.rate_age = LoopHistogram(RATE_AGE, r)
        self.rate_refreshes = _counter(RATE_REFRESHES, r)
        self.job_events = _counter(JOB_EVENTS_TOTAL, r)
        self.job_lag = _gauge(JOB_LAG, r)
        self.leader = _gauge(LEADER, r)
        self.trace_spans = _counter(TRACE_SPANS, r)
        self.build = Info(BUILD.name, BUILD.help, registry=r)

    def preinitialise(self, v: Vocabulary, *, version: str, routes: Iterable[str] = ()) -> None:
        """Create every known label combination, so series exist before the first event."""
        for route in (*routes, UNMATCHED_ROUTE):
            self.http_duration.labels(route, "GET")
            for code in ("200", "500"):
                self.http_requests.labels(route, "GET", code)
        for job in v.jobs:
            self.ingest_run_duration.labels(job)
            self.ingest_last_success.labels(job)
            for outcome in v.run_outcomes:
                self.ingest_runs.labels(job, outcome)
        for kind in KINDS:
            self.quality_ratio.labels(kind)
            self.source_failovers.labels(kind)
            for result in RECORD_RESULTS:
                self.ingest_records.labels(kind, result)
        for step in STEPS:
            self.ingest_step_duration.labels(step)
        for source, operations in v.sources.items():
            self.source_circuit.labels(source)
            for operation in operations:
                self.source_duration.labels(source, operation)
                for outcome in v.outcomes:
                    self.source_requests.labels(source, operation, outcome)
        for rule in v.rules:
            for result in CHECK_RESULTS:
                self.quality_checks.labels(rule, result)
        for a in v.currencies:
            for b in v.currencies:
                self.conversions.labels(a, b)
        for result in ("ok", "error"):
            self.rate_refreshes.labels(result)
        for job in v.scheduled_jobs:
            self.job_lag.labels(job)
            for event in JOB_EVENTS:
                self.job_events.labels(job, event)
        for outcome in SPAN_OUTCOMES:
            self.trace_spans.labels(outcome)
        self.build.info({"version": version})
