"""Counters and histograms for the request path, written by the event loop alone.

prometheus_client's metrics take a lock on every `inc()` and `observe()`, scan the buckets in
Python and validate each exemplar: about 2.5 us of a `/convert` request that costs ~100 us in
all (README, "Benchmarks"). These hold plain numbers instead. They are safe because there is
one writer, the event loop thread (the HTTP middleware and async endpoints), and scrapes in
another thread only read: a scrape sees each count either before or after an increment, and
takes `_count` from the same snapshot as the buckets. Code that runs in a worker thread must
use the ordinary prometheus_client metrics.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from app.telemetry.catalog import Spec


class CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramChild:
    __slots__ = ("_bounds", "counts", "exemplars", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds  # the edges, +Inf last
        self.counts = [0] * len(bounds)  # per bucket, not cumulative
        self.sum = 0.0
        self.exemplars: list[Exemplar | None] = [None] * len(bounds)

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        i = bisect_left(self._bounds, value)  # the first edge >= value: `le` semantics
        self.counts[i] += 1
        self.sum += value
        if exemplar is not None:
            self.exemplars[i] = Exemplar(exemplar, value, time.time())


Child = TypeVar("Child", CounterChild, HistogramChild)


class _LoopMetric(Collector, Generic[Child]):
    def __init__(self, spec: Spec, registry: CollectorRegistry) -> None:
        self.spec = spec
        self._children: dict[tuple[str, ...], Child] = {}
        registry.register(self)

    def labels(self, *values: object) -> Child:
        if len(values) != len(self.spec.labels):
            raise ValueError(f"{self.spec.name} takes labels {self.spec.labels}, got {values}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def _new_child(self) -> Child:
        raise NotImplementedError

    def _snapshot(self) -> list[tuple[tuple[str, ...], Child]]:
        return list(self._children.items())  # one C-level copy: the loop may add a child

    def _family(self) -> Metric:
        raise NotImplementedError

    def describe(self) -> Iterator[Metric]:
        yield self._family()


class LoopCounter(_LoopMetric[CounterChild]):
    def _new_child(self) -> CounterChild:
        return CounterChild()

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.spec.name, self.spec.help, labels=self.spec.labels)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for key, child in self._snapshot():
            family.add_metric(key, child.value)
        yield family


class LoopHistogram(_LoopMetric[HistogramChild]):
    def __init__(self, spec: Spec, registry: CollectorRegistry) -> None:
        assert spec.buckets is not None, spec
        self._bounds = (*spec.buckets, float("inf"))
        self._edges = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        super().__init__(spec, registry)
        if not spec.labels:
            self.labels()  # an unlabelled histogram has its one series from the start

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """For an unlabelled histogram."""
        self.labels().observe(value, exemplar)

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.spec.name, self.spec.help, labels=self.spec.labels)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for key, child in self._snapshot():
            counts, exemplars, total = list(child.counts), list(child.exemplars), child.sum
            buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
            cumulative = 0
            for edge, count, exemplar in zip(self._edges, counts, exemplars, strict=True):
                cumulative += count
                buckets.append(
                    (edge, cumulative) if exemplar is None else (edge, cumulative, exemplar)
                )
            family.add_metric(key, buckets, total)
        yield family
